export const SYNC_MODES = ['push', 'pull', 'bidirectional'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

export const CONFLICT_POLICIES = ['keep-both', 'newest', 'local', 'remote', 'manual'] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];

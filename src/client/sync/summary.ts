import type { ApplyOutcome } from './apply-plan.js';

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function formatSummary(outcome: ApplyOutcome): string {
  if (outcome.applied === 0 && outcome.failed.size === 0) return 'up to date';
  const moved =
    outcome.received > 0
      ? `${formatBytes(outcome.bytes)} sent, ${formatBytes(outcome.received)} received`
      : `${formatBytes(outcome.bytes)} sent`;
  const parts = [`${outcome.applied} change${outcome.applied === 1 ? '' : 's'} applied (${moved})`];
  if (outcome.failed.size > 0) parts.push(`${outcome.failed.size} refused`);
  return parts.join(', ');
}

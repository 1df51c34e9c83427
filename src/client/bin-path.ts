import { fileURLToPath } from 'node:url';

/** The program's entry, so that daemons and `-a` children run the very code of this client. */
export const BIN_SCRIPT = fileURLToPath(new URL('../../bin/sicksync.js', import.meta.url));

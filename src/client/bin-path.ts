import { getPackageFile } from '../shared/package-root.js';

/** The program's entry, so that daemons and `-a` children run the very code of this client. */
export const BIN_SCRIPT = getPackageFile('bin', 'sicksync.js');

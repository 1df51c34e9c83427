import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, type ConfigProblem } from '../../shared/errors.js';
import type { SyncMode } from '../../shared/sync-mode.js';
import type { DestinationInput } from './schema.js';
import type { DestinationSpec } from './types.js';

export interface NormalizeDestinationOptions {
  /** Absolute path of the project root: local relative paths resolve against it. */
  projectRoot: string;
  /** The project's merged mode, used when the destination names none. */
  defaultMode: SyncMode;
  /** This user's home: a local `~` expands to it. */
  home: string;
  /** Where the value was written, so problems point at it. */
  file?: string;
  field?: string;
}

interface ParsedLocation {
  host?: DestinationSpec['host'];
  tcp?: DestinationSpec['tcp'];
  location: string;
  /** Dot-path of the location within the destination (`.destinationLocation` for the long form). */
  locationField: string;
}

/**
 * Turns a destination as written (scp-style shorthand or the long form) into a DestinationSpec.
 * Throws a ConfigError listing every problem of this one destination.
 */
export function normalizeDestination(value: DestinationInput, options: NormalizeDestinationOptions): DestinationSpec {
  const problems: Array<{ subfield: string; message: string }> = [];
  const fail = (message: string, subfield = '') => problems.push({ subfield, message });
  const parsed = typeof value === 'string' ? parseShorthand(value, fail) : parseLongForm(value, options.home, fail);
  const mode = (typeof value === 'string' ? undefined : value.mode) ?? options.defaultMode;

  let location = parsed?.location ?? '';
  if (parsed?.host || parsed?.tcp) {
    location = normalizeRemoteLocation(location, (message) => fail(message, parsed.locationField));
  } else if (parsed) {
    location = normalizeLocalLocation(location, options, (message) => fail(message, parsed.locationField));
  }
  if (problems.length > 0 || !parsed) {
    const field = options.field ?? '';
    throw new ConfigError(
      problems.map(({ subfield, message }): ConfigProblem => ({ file: options.file ?? '', field: field + subfield, message })),
    );
  }
  const id = parsed.tcp ? `${parsed.tcp.url.replace(/\/$/, '')}:${location}` : getDestinationId(parsed.host, location);
  const spec: DestinationSpec = { id, location, mode };
  if (parsed.host) spec.host = parsed.host;
  if (parsed.tcp) spec.tcp = parsed.tcp;
  return spec;
}

/** True when an scp-style value names a local folder rather than `[user@]host:path`. */
export function isLocalShorthand(value: string): boolean {
  if (/^[/~.]/.test(value)) return true;
  const colon = value.indexOf(':');
  const slash = value.indexOf('/');
  return colon === -1 || (slash !== -1 && slash < colon);
}

function parseShorthand(value: string, fail: (message: string) => void): ParsedLocation | undefined {
  if (isLocalShorthand(value)) return { location: value, locationField: '' };
  let rest = value;
  let username: string | undefined;
  const at = value.indexOf('@');
  if (at !== -1 && at < value.indexOf(':')) {
    username = value.slice(0, at);
    rest = value.slice(at + 1);
  }
  // `[::1]:path`, as scp writes IPv6 addresses, since the address itself holds colons.
  const hostEnd = rest.startsWith('[') ? rest.indexOf(']') + 1 : rest.indexOf(':');
  const hostname = rest.startsWith('[') ? rest.slice(1, hostEnd - 1) : rest.slice(0, hostEnd);
  if (hostEnd <= 0 || rest[hostEnd] !== ':' || !/^[^\s/@[\]]+$/.test(hostname) || username === '') {
    fail(`"${value}" is not a valid destination: write [user@]host:path (e.g. devbox:~/src/web) or a local path`);
    return undefined;
  }
  const host: NonNullable<DestinationSpec['host']> = { hostname };
  if (username) host.username = username;
  return { host, location: rest.slice(hostEnd + 1), locationField: '' };
}

function expandHome(file: string, home: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(home, file.slice(1)) : path.resolve(file);
}

function parseLongForm(
  value: Exclude<DestinationInput, string>,
  home: string,
  fail: (message: string, subfield?: string) => void,
): ParsedLocation {
  const locationField = '.destinationLocation';
  if (value.url !== undefined) {
    if (value.hostname !== undefined) fail('give either hostname (SSH) or url (TCP transport), not both', '.url');
    if (value.tokenFile === undefined)
      fail('required with url: the file holding the daemon token (see sicksync remote daemon --listen)', '.tokenFile');
    const tcp: NonNullable<DestinationSpec['tcp']> = { url: value.url, tokenFile: expandHome(value.tokenFile ?? '', home) };
    if (value.ca !== undefined) tcp.ca = expandHome(value.ca, home);
    return { tcp, location: value.destinationLocation, locationField };
  }
  if (value.tokenFile !== undefined || value.ca !== undefined)
    fail('only used with url (the TCP transport)', value.tokenFile !== undefined ? '.tokenFile' : '.ca');
  if (value.hostname === undefined) {
    if (value.username !== undefined) fail('needs a hostname (a local destination has no user)', '.username');
    if (value.port !== undefined) fail('needs a hostname (a local destination has no port)', '.port');
    return { location: value.destinationLocation, locationField };
  }
  const host: NonNullable<DestinationSpec['host']> = { hostname: value.hostname };
  if (value.username !== undefined) host.username = value.username;
  if (value.port !== undefined) host.port = value.port;
  return { host, location: value.destinationLocation, locationField };
}

/** Remote paths keep `~`: it means the remote user's home, known only once connected. */
function normalizeRemoteLocation(location: string, fail: (message: string) => void): string {
  if (location.startsWith('/')) return stripTrailingSlash(path.posix.normalize(location));
  if (location === '~' || location.startsWith('~/')) {
    const rest = path.posix.normalize(location.slice(2) || '.');
    return rest === '.' ? '~' : stripTrailingSlash(`~/${rest}`);
  }
  if (location.startsWith('~')) {
    fail(`"${location}": another user's home (~user) is not supported; write the absolute path`);
  } else {
    fail(`"${location}": a remote path must be absolute or start with ~ (e.g. devbox:~/src/web)`);
  }
  return location;
}

function normalizeLocalLocation(location: string, options: NormalizeDestinationOptions, fail: (message: string) => void): string {
  if (location.startsWith('~') && location !== '~' && !location.startsWith('~/')) {
    fail(`"${location}": another user's home (~user) is not supported; write the absolute path`);
    return location;
  }
  const absolute = location.startsWith('~') ? path.join(options.home, location.slice(1)) : path.resolve(options.projectRoot, location);
  const root = path.resolve(options.projectRoot);
  // By the text, and by where both really are: a symlinked alias of the project (or of a folder
  // above it) must not let a destination nest the project into itself.
  const realRoot = getRealPath(root);
  const realDestination = getRealPath(absolute);
  const through = realDestination === absolute && realRoot === root ? '' : ` (really ${realDestination})`;
  if (absolute === root || realDestination === realRoot) {
    fail(`"${location}" is the project folder itself${through}; a destination must be another folder`);
  } else if (isInside(root, absolute) || isInside(realRoot, realDestination)) {
    fail(`"${location}" is inside the project folder ${root}${through}, which would sync the project into itself`);
  } else if (isInside(absolute, root) || isInside(realDestination, realRoot)) {
    fail(`"${location}" contains the project folder ${root}${through}, which would sync the project into itself`);
  }
  return absolute;
}

/**
 * The real path of `absolute`, which need not exist yet: the real path of its deepest existing
 * folder, with the rest appended. libc's realpath (Node's own applies `..` before following links).
 */
function getRealPath(absolute: string): string {
  const rest: string[] = [];
  for (let current = absolute; ; current = path.dirname(current)) {
    try {
      return path.join(realpathSync.native(current), ...rest.reverse());
    } catch {
      if (path.dirname(current) === current) return absolute;
      rest.push(path.basename(current));
    }
  }
}

function isInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function stripTrailingSlash(location: string): string {
  return location.length > 1 && location.endsWith('/') ? location.slice(0, -1) : location;
}

/** A readable key that changes only when the destination really changes: `me@gpu-1:2222:/data/web`. */
function getDestinationId(host: DestinationSpec['host'], location: string): string {
  if (!host) return location;
  const hostname = host.hostname.includes(':') ? `[${host.hostname}]` : host.hostname;
  return `${host.username ? `${host.username}@` : ''}${hostname}${host.port ? `:${host.port}` : ''}:${location}`;
}

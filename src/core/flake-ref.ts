import { InvalidArgumentError } from './errors.js';
import { quote } from './quote.js';

/**
 * Where a flake ref says its source lives, in a form two refs can be compared in:
 * Nix canonicalises `path:` refs and git/curl normalise URLs before fetching, so a
 * textual prefix check on the raw ref can be walked around (`…/allowed/../evil`,
 * `%2e%2e`). A ref is therefore read into its parts, refused when its path could
 * mean something other than it spells, and compared part by part.
 */
export interface FlakeLocation {
  /** Lowercase scheme: `path`, `git+https`, `github`, …; `flake` for registry names such as `nixpkgs`. */
  scheme: string;
  /** Lowercase `host[:port]` of `scheme://host/…` refs; the `host=` parameter of `github:`-like refs. */
  host?: string;
  /** Percent-decoded path segments, without empty ones (`a//b` is `a/b`, as Nix and most servers read it). */
  segments: string[];
}

/** Query parameters naming a directory inside the fetched source; they take the same dot-segment rule. */
const DIRECTORY_PARAMETERS = ['dir'];
/** Schemes whose `host=` parameter says which server the `owner/repo` path is fetched from. */
const FORGE_SCHEMES = new Set(['github', 'gitlab', 'sourcehut']);

/** The text being read and what to call it in a message: the volume's `flakeRef` key or a `--flake-prefixes` entry. */
interface Named {
  text: string;
  label: string;
}

function refused(ref: Named, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`${ref.label}: ${quote(ref.text)} ${reason}`);
}

/** Decodes %XX escapes once; Nix decodes once too, so what is left encoded would be decoded by no one we can see. */
function decodeOnce(text: string, ref: Named): string {
  if (/%(?![0-9a-f]{2})/i.test(text)) throw refused(ref, 'has a "%" that is not a percent-encoded byte');
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    throw refused(ref, 'has percent-encoded bytes that are not UTF-8');
  }
  if (/%[0-9a-f]{2}/i.test(decoded)) {
    throw refused(ref, 'is percent-encoded twice (a later reader could decode it into another path)');
  }
  return decoded;
}

/** Refuses `.` and `..` segments, and "\", in an already decoded path; returns its non-empty segments. */
function checkedSegments(path: string, ref: Named, what: string): string[] {
  if (path.includes('\\')) throw refused(ref, `has a "\\" in its ${what}, which some URL readers take for "/"`);
  const segments = path.split('/');
  for (const dots of ['..', '.']) {
    if (segments.includes(dots)) {
      throw refused(ref, `has a "${dots}" segment in its ${what} (spelled out or percent-encoded); name the flake by its own path`);
    }
  }
  return segments.filter((segment) => segment !== '');
}

/** The path's segments, refusing every spelling that could lead another reader somewhere else. */
function pathSegments(rawPath: string, ref: Named): string[] {
  // An encoded "/" or "\" would join or split segments differently for readers that decode at different steps.
  if (/%(2f|5c)/i.test(rawPath)) throw refused(ref, 'has a percent-encoded "/" or "\\" in its path');
  return checkedSegments(decodeOnce(rawPath, ref), ref, 'path');
}

interface SplitRef {
  scheme: string;
  host?: string;
  rawPath: string;
  parameters: URLSearchParams;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

function split(ref: Named): SplitRef {
  if (/[\u0000-\u001f\u007f\s]/.test(ref.text)) throw refused(ref, 'contains whitespace or a control character');
  if (ref.text.startsWith('-')) throw refused(ref, 'starts with "-", which Nix would read as an option');
  const hash = ref.text.indexOf('#');
  const installable = hash === -1 ? ref.text : ref.text.slice(0, hash);
  const question = installable.indexOf('?');
  const beforeQuery = question === -1 ? installable : installable.slice(0, question);
  const rawQuery = question === -1 ? '' : installable.slice(question + 1);
  const schemeMatch = SCHEME.exec(beforeQuery);
  // Nix reads a ref without a scheme as a path when it starts with "/" or ".", else as a registry name.
  const scheme = schemeMatch ? schemeMatch[1]!.toLowerCase() : /^[/.]/.test(beforeQuery) ? 'path' : 'flake';
  let rest = schemeMatch ? beforeQuery.slice(schemeMatch[0].length) : beforeQuery;
  let host: string | undefined;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash === -1 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash === -1 ? '' : rest.slice(slash);
    // User info can hide the real host from a reader that splits at the wrong "@".
    if (authority.includes('@')) throw refused(ref, 'names a user in its URL; put credentials in the node\'s Nix configuration');
    host = decodeOnce(authority, ref).toLowerCase();
  }
  return { scheme, host, rawPath: rest, parameters: new URLSearchParams(rawQuery) };
}

function locate(parts: SplitRef, ref: Named): FlakeLocation {
  const segments = pathSegments(parts.rawPath, ref);
  for (const name of DIRECTORY_PARAMETERS) {
    // URLSearchParams has decoded once already; a second layer is refused like the path's.
    for (const value of parts.parameters.getAll(name)) {
      if (/%[0-9a-f]{2}/i.test(value)) throw refused(ref, `is percent-encoded twice in its "${name}" parameter`);
      checkedSegments(value, ref, `"${name}" parameter`);
    }
  }
  let host = parts.host;
  const forgeHosts = parts.parameters.getAll('host');
  if (forgeHosts.length > 1) throw refused(ref, 'has more than one "host" parameter');
  if (FORGE_SCHEMES.has(parts.scheme) && forgeHosts.length === 1) host = forgeHosts[0]!.toLowerCase();
  return host === undefined ? { scheme: parts.scheme, segments } : { scheme: parts.scheme, host, segments };
}

/** Reads a volume's flakeRef, refusing (INVALID_ARGUMENT, naming the key) a ref whose path uses dot segments or tricks. */
export function parseFlakeRef(ref: string): FlakeLocation {
  const named = { text: ref, label: 'flakeRef' };
  return locate(split(named), named);
}

/**
 * Reads one `--flake-prefixes` entry. A prefix is a ref cut anywhere at a segment
 * boundary (`github:acme/`, `git+https://git.acme.example`, `path:/srv/flakes`);
 * it takes the same rules as a ref, so the two are compared in one form.
 */
export function parseFlakePrefix(prefix: string): FlakeLocation {
  const named = { text: prefix, label: 'the flake prefix' };
  return locate(split(named), named);
}

/**
 * Is `ref` at or below `prefix`? Scheme and host must be equal, and the prefix's
 * segments must be the ref's first segments, each whole: `path:/srv/flakes` covers
 * `path:/srv/flakes/tools` but not `path:/srv/flakes-evil`.
 */
export function flakeRefUnder(ref: FlakeLocation, prefix: FlakeLocation): boolean {
  if (ref.scheme !== prefix.scheme || ref.host !== prefix.host) return false;
  if (prefix.segments.length > ref.segments.length) return false;
  return prefix.segments.every((segment, index) => ref.segments[index] === segment);
}

import { readFile } from 'node:fs/promises';
import { info, ok, problem, reason, type Check, type CheckResult } from './check.js';

const PUSH = 'push-cache';

export interface PushSettings {
  /** --push-to; the check says nothing is pushed when absent. */
  pushTo?: string;
  /** --push-key-file. */
  keyFile?: string;
  /** --trusted-public-keys as given (empty: Nix's own configuration decides, doctor does not compare). */
  trustedPublicKeys?: readonly string[];
  /** --connect-timeout, the bound of the one request. */
  timeoutMs: number;
}

/**
 * The public half of a Nix signing key `NAME:BASE64`: Nix's secret keys are
 * libsodium's 64-byte Ed25519 secret keys, the seed followed by the public key.
 */
export function publicKeyOf(secretKey: string): string | undefined {
  const match = /^([^:\s]+):([A-Za-z0-9+/]+={0,2})$/.exec(secretKey.trim());
  if (!match) return undefined;
  const bytes = Buffer.from(match[2]!, 'base64');
  if (bytes.length !== 64) return undefined;
  return `${match[1]}:${bytes.subarray(32).toString('base64')}`;
}

async function keyResult(settings: PushSettings, pushTo: string): Promise<CheckResult> {
  const { keyFile, trustedPublicKeys = [] } = settings;
  if (!keyFile) {
    return problem(PUSH, `${pushTo} gets unsigned paths (no --push-key-file): nodes refuse them, nixmount requires signatures`, 'set --push-key-file to the cluster\'s secret key (nix-store --generate-binary-cache-key) on nodes that build');
  }
  let text: string;
  try {
    text = await readFile(keyFile, 'utf8');
  } catch (error) {
    return problem(PUSH, `--push-key-file ${keyFile} is not readable (${reason(error)}): every push fails`, 'mount the cluster signing key Secret where --push-key-file points');
  }
  const publicKey = publicKeyOf(text);
  // The secret itself never reaches the report: only whether it parses, and its public half.
  if (!publicKey) {
    return problem(PUSH, `--push-key-file ${keyFile} is not a Nix secret key (NAME:BASE64 of 64 bytes): every push fails`, 'write the secret half of nix-store --generate-binary-cache-key there, not the public one');
  }
  if (trustedPublicKeys.length > 0 && !trustedPublicKeys.includes(publicKey)) {
    return problem(
      PUSH,
      `${keyFile} signs as ${publicKey}, which --trusted-public-keys does not list: nodes configured like this one refuse what it pushes`,
      `add ${publicKey} to --trusted-public-keys (NIXMOUNT_TRUSTED_PUBLIC_KEYS) on every node`,
    );
  }
  return ok(PUSH, `pushes are signed as ${publicKey}`);
}

/** One request for nix-cache-info, bounded by `timeoutMs`. */
async function answerResult(pushTo: string, timeoutMs: number): Promise<CheckResult> {
  if (!/^https?:\/\//.test(pushTo)) {
    return info(PUSH, `${pushTo} not checked: doctor checks http and https caches`, `check it with \`nix store ping --store '${pushTo}'\``);
  }
  const url = `${pushTo.split('?')[0]!.replace(/\/+$/, '')}/nix-cache-info`;
  const started = Date.now();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    const ms = Date.now() - started;
    if (response.status === 200) return ok(PUSH, `${pushTo} answers nix-cache-info (${ms} ms)`);
    // Nix writes nix-cache-info itself on its first push to an empty cache.
    if (response.status === 404) return info(PUSH, `${pushTo} answers (${ms} ms) but has no nix-cache-info yet`, 'make sure it accepts PUT (nginx: dav_methods PUT; create_full_put_path on): the first push writes it');
    return problem(PUSH, `${url} answers HTTP ${response.status}`, 'check the URL and the server\'s configuration (it must serve GET and accept PUT)');
  } catch (error) {
    const err = error as Error & { cause?: NodeJS.ErrnoException };
    const why = err?.name === 'TimeoutError' || err?.name === 'AbortError' ? `no answer within ${timeoutMs / 1000}s` : (err?.cause?.code ?? reason(error));
    return problem(PUSH, `${pushTo} is unreachable (${why}): what this node realises stays queued and is not shared`, 'check the cache (its pod or job) and this node\'s route to it; pushes are retried in the background');
  }
}

/**
 * The cache this node pushes to: signed with a key that parses (and that the node's
 * trusted keys list), and answering `nix-cache-info`. A push never fails a volume (it
 * runs in the background), so a cache that is down shows here and in
 * nixmount_cache_push_total, not as failed mounts. Both lines are given, so a missing
 * key does not hide a cache that is down.
 */
export async function pushCacheResults(settings: PushSettings): Promise<CheckResult[]> {
  const { pushTo, timeoutMs } = settings;
  if (!pushTo) return [ok(PUSH, 'none (--push-to not set): what this node builds stays on it')];
  return Promise.all([keyResult(settings, pushTo), answerResult(pushTo, timeoutMs)]);
}

export function pushCacheCheck(settings: PushSettings): Check {
  return { name: PUSH, timeoutMs: settings.timeoutMs + 5_000, run: () => pushCacheResults(settings) };
}

import { access, constants } from 'node:fs/promises';
import { info, ok, problem, reason, type Check, type CheckResult } from './check.js';

const PUSH = 'push-cache';

export interface PushSettings {
  /** --push-to; the check says nothing is pushed when absent. */
  pushTo?: string;
  /** --push-key-file. */
  keyFile?: string;
  /** --connect-timeout, the bound of the one request. */
  timeoutMs: number;
}

async function keyResult(keyFile: string | undefined, pushTo: string): Promise<CheckResult | undefined> {
  if (!keyFile) {
    return problem(PUSH, `${pushTo} gets unsigned paths (no --push-key-file): nodes that require signatures refuse them`, 'set --push-key-file to the cluster\'s secret key (nix-store --generate-binary-cache-key) on nodes that build');
  }
  try {
    await access(keyFile, constants.R_OK);
    return undefined;
  } catch (error) {
    return problem(PUSH, `--push-key-file ${keyFile} is not readable (${reason(error)}): every push fails`, 'mount the cluster signing key Secret where --push-key-file points');
  }
}

/**
 * The cache this node pushes to answers `nix-cache-info`. A push never fails a volume
 * (it runs in the background), so a cache that is down shows here and in
 * nixmount_cache_push_total, not as failed mounts.
 */
export async function pushCacheResult(settings: PushSettings): Promise<CheckResult> {
  const { pushTo, timeoutMs } = settings;
  if (!pushTo) return ok(PUSH, 'none (--push-to not set): what this node builds stays on it');
  const key = await keyResult(settings.keyFile, pushTo);
  if (key) return key;
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
    const why = err?.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000}s` : (err?.cause?.code ?? reason(error));
    return problem(PUSH, `${pushTo} is unreachable (${why}): what this node builds is queued and not shared`, 'check the cache (its pod or job) and this node\'s route to it; pushes are retried in the background');
  }
}

export function pushCacheCheck(settings: PushSettings): Check {
  return { name: PUSH, timeoutMs: settings.timeoutMs + 5_000, run: () => pushCacheResult(settings) };
}

import { opendir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { physicalRoot, type NixSettings } from '../platform/nix-settings.js';
import type { ProcessRunner } from '../platform/process-runner.js';
import { info, ok, problem, reason, type Check, type CheckResult } from './check.js';
import { effectiveNixConfig, type EffectiveNixConfig } from './nix-config.js';

const KEYS = 'trusted-keys';
const CACHE = 'substituter';
/** Store paths of the node looked up in each cache, to see who signed them. */
const SAMPLE = 16;

/** A key's name: `cache.example.org-1` of `cache.example.org-1:base64…`. */
export function keyName(key: string): string {
  return key.split(':')[0] ?? key;
}

/** The names on a narinfo's `Sig:` lines. */
export function signers(narinfo: string): string[] {
  return narinfo
    .split('\n')
    .filter((line) => line.startsWith('Sig: '))
    .map((line) => keyName(line.slice(5).trim()));
}

/** The hash parts of up to `count` store paths the node has: what a cache of this node's software likely holds too. */
async function sampleHashes(storeDir: string, count: number): Promise<string[]> {
  const hashes: string[] = [];
  const dir = await opendir(storeDir).catch(() => undefined);
  if (!dir) return hashes;
  try {
    for await (const entry of dir) {
      const match = /^([0-9a-z]{32})-/.exec(entry.name);
      if (match && !entry.name.endsWith('.drv') && !entry.name.endsWith('.lock')) hashes.push(match[1]!);
      if (hashes.length >= count) break;
    }
  } finally {
    await dir.close().catch(() => undefined);
  }
  return hashes;
}

async function get(url: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  return { status: response.status, text: response.status === 200 ? await response.text() : (await response.body?.cancel(), '') };
}

function unreachable(url: string, error: unknown, timeoutMs: number): CheckResult {
  const err = error as Error & { cause?: NodeJS.ErrnoException };
  const why = err?.name === 'TimeoutError' || err?.name === 'AbortError' ? `no answer within ${timeoutMs / 1000}s` : (err?.cause?.code ?? err?.cause?.message ?? reason(error));
  return problem(
    CACHE,
    `${url} is unreachable (${why})`,
    'check the URL and this node\'s route to it (proxy, firewall, DNS), or remove it from --substituters: every realisation waits --connect-timeout on it',
  );
}

/** One HTTP(S) cache: its nix-cache-info answers, and the node's paths it holds are signed by a key the node trusts. */
async function httpCache(url: string, trusted: readonly string[], storeDir: string, timeoutMs: number): Promise<CheckResult> {
  // Store URL parameters (?priority=30, ?trusted=1) are for Nix, not part of the cache's paths.
  const base = url.split('?')[0]!.replace(/\/+$/, '');
  const started = Date.now();
  let cacheInfo;
  try {
    cacheInfo = await get(`${base}/nix-cache-info`, timeoutMs);
  } catch (error) {
    return unreachable(url, error, timeoutMs);
  }
  const ms = Date.now() - started;
  if (cacheInfo.status !== 200) {
    return problem(CACHE, `${url}/nix-cache-info answers HTTP ${cacheInfo.status}: not a binary cache`, 'check the URL (a binary cache serves nix-cache-info at its root)');
  }
  const cacheStore = /^StoreDir:\s*(\S+)/m.exec(cacheInfo.text)?.[1];
  if (cacheStore !== undefined && cacheStore !== '/nix/store') {
    return problem(CACHE, `${url} holds paths of ${cacheStore}, not /nix/store`, 'use a cache built for /nix/store');
  }
  // The sample shares one --connect-timeout: a slow cache costs doctor no more than that.
  const deadline = Date.now() + timeoutMs;
  const hashes = await sampleHashes(storeDir, SAMPLE);
  for (const hash of hashes) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const narinfo = await get(`${base}/${hash}.narinfo`, left).catch(() => undefined);
    if (narinfo?.status !== 200) continue;
    const names = signers(narinfo.text);
    const trustedNames = names.filter((name) => trusted.includes(name));
    if (trustedNames.length > 0) return ok(CACHE, `${url} answers (${ms} ms) and signs with ${trustedNames.join(', ')}, which this node trusts`);
    return problem(
      CACHE,
      `${url} answers (${ms} ms), but its ${hash}.narinfo is signed by ${names.length > 0 ? names.join(', ') : 'no key'}, which this node does not trust: nothing from it is accepted`,
      `add the cache's public key (${names[0] ?? 'its name'}:…) to --trusted-public-keys (NIXMOUNT_TRUSTED_PUBLIC_KEYS)`,
    );
  }
  return ok(CACHE, `${url} answers (${ms} ms); it holds none of the ${hashes.length} store paths of this node looked up, so its signing key was not compared with the trusted ones`);
}

async function fileCache(url: string): Promise<CheckResult> {
  const dir = decodeURIComponent(url.replace(/^file:\/\//, '').split('?')[0]!);
  try {
    await readFile(join(dir, 'nix-cache-info'), 'utf8');
    return ok(CACHE, `${url} has a nix-cache-info`);
  } catch (error) {
    return problem(CACHE, `${url} has no readable nix-cache-info (${reason(error)})`, 'check the path, and that it is mounted into the plugin');
  }
}

/** The caches' lines, given the settings Nix will use. */
export async function cacheResults(config: EffectiveNixConfig, settings: NixSettings): Promise<CheckResult[]> {
  const from = config.source === 'nix' ? 'Nix\'s configuration with nixmount\'s flags' : 'nixmount\'s flags (Nix could not be asked)';
  if (config.substituters.length === 0) {
    return [ok(CACHE, `none configured (${from}): every store path must already be on the node`)];
  }
  const trusted = config.trustedPublicKeys.map(keyName);
  const results: CheckResult[] = [
    trusted.length > 0
      ? ok(KEYS, `${trusted.join(', ')} (${from})`)
      : problem(
          KEYS,
          `no trusted public key (${from}), so nothing from ${config.substituters.join(', ')} is accepted: nixmount requires signatures`,
          'set --trusted-public-keys (NIXMOUNT_TRUSTED_PUBLIC_KEYS) to each cache\'s public key, NAME:BASE64',
        ),
  ];
  const storeDir = join(physicalRoot(settings.storeUri), 'nix/store');
  const timeoutMs = settings.connectTimeoutSec * 1000;
  const caches = await Promise.all(
    config.substituters.map((url) => {
      if (/^https?:\/\//.test(url)) return httpCache(url, trusted, storeDir, timeoutMs);
      if (url.startsWith('file://')) return fileCache(url);
      return Promise.resolve(info(CACHE, `${url} not checked: doctor checks http, https and file caches`, `check it with \`nix store ping --store '${url}'\``));
    }),
  );
  return [...results, ...caches];
}

/** Caches come from Nix's own configuration under nixmount's overrides, as a realisation sees them. */
export function substitutersCheck(runner: ProcessRunner, settings: NixSettings): Check {
  return {
    name: CACHE,
    // Nix's answer, then (caches in parallel) nix-cache-info and the narinfo sample, each bounded by --connect-timeout.
    timeoutMs: 25_000 + settings.connectTimeoutSec * 1000 * 2,
    async run() {
      return cacheResults(await effectiveNixConfig(runner, settings), settings);
    },
  };
}

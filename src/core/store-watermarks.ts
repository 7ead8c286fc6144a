import type { StoreSpace } from './ports/nix-store.js';

export const StoreGcSettings = Symbol('StoreGcSettings');

/**
 * Store GC by watermarks, as kubelet collects images: when the filesystem holding
 * the store is `highPercent` used or more, Nix's GC frees it down to `lowPercent`.
 * Off unless both are set.
 */
export interface StoreGcSettings {
  highPercent?: number;
  lowPercent?: number;
  /** How often the usage is checked (besides after each realise). */
  intervalMs: number;
  /** One collection is killed after this long, counted as timed out and tried again at the next check. */
  timeoutMs: number;
}

export const STORE_GC_OFF: StoreGcSettings = { intervalMs: 5 * 60_000, timeoutMs: 30 * 60_000 };

/**
 * Percent of the filesystem in use as kubelet's image GC counts it: 100 × (1 − available/size),
 * so blocks reserved for root count as used (`df`'s Use% leaves them out).
 */
export function usedPercent(space: StoreSpace): number {
  if (space.totalBytes <= 0) return 0;
  return ((space.totalBytes - space.availableBytes) / space.totalBytes) * 100;
}

/** Bytes to free to bring the usage down to `lowPercent` (0 when already there). */
export function bytesAboveLow(space: StoreSpace, lowPercent: number): number {
  const wantedAvailable = space.totalBytes * (1 - lowPercent / 100);
  return Math.max(0, Math.ceil(wantedAvailable - space.availableBytes));
}

/**
 * How many bytes to free now: none below the high watermark; at or above it, enough
 * to bring the usage down to the low one.
 */
export function bytesToFree(space: StoreSpace, settings: Pick<StoreGcSettings, 'highPercent' | 'lowPercent'>): number {
  const { highPercent, lowPercent } = settings;
  if (highPercent === undefined || lowPercent === undefined) return 0;
  if (usedPercent(space) < highPercent) return 0;
  return bytesAboveLow(space, lowPercent);
}

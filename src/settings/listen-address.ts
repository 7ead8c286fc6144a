import { ValueError } from './option.js';

/** Where an HTTP endpoint listens: no host means every interface. */
export interface ListenAddress {
  host?: string;
  port: number;
}

/**
 * `:PORT` (every interface), `HOST:PORT` or `[IPv6]:PORT`, as Go's net.Listen and the
 * Kubernetes sidecars write it. Port 0 takes any free port (the plugin logs which).
 */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65_535) throw new ValueError(`"${text}" is not :PORT or HOST:PORT (e.g. :9810, 127.0.0.1:9810, [::1]:9810)`);
  const host = match[1] ?? match[2];
  return host ? { host, port } : { port };
}

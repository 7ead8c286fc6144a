import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { ApiServer } from './in-cluster.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** Bytes of an error answer kept for the log. */
const ERROR_BODY_BYTES = 300;
/** Bytes of an answer read at most unless the call says otherwise: a created Event comes back whole (~2 KiB). */
const ANSWER_BYTES = 64 * 1024;

/** The API server refused or failed a request. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiCall {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  contentType?: string;
  body?: unknown;
  /** An answer longer than this is refused (what a GET reads is kept whole). */
  maxBytes?: number;
}

/**
 * One call to the API server with node:https and the pod's service-account token: the
 * answer's text when it is 2xx, else an ApiError quoting the server's message. A dedicated
 * client costs ~4 MiB of RSS where @kubernetes/client-node costs ~70 MiB
 * (docs/operations.md, "Kubernetes Events").
 */
export async function apiRequest(server: ApiServer, call: ApiCall): Promise<string> {
  const token = (await readFile(server.tokenFile, 'utf8')).trim();
  const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
  const maxBytes = call.maxBytes ?? ANSWER_BYTES;
  const what = `${call.method} ${call.path}`;
  return new Promise<string>((resolve, reject) => {
    const req = request(
      {
        host: server.host,
        port: server.port,
        method: call.method,
        path: call.path,
        ca: server.ca,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'user-agent': 'nixmount',
          ...(payload ? { 'content-type': call.contentType ?? 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        let tooLong = false;
        response.on('data', (chunk: Buffer) => {
          if (kept + chunk.length > Math.max(maxBytes, ERROR_BODY_BYTES)) {
            tooLong = true;
            response.destroy();
            return;
          }
          chunks.push(chunk);
          kept += chunk.length;
        });
        response.on('error', (error) => reject(tooLong ? new ApiError(0, `${what}: the answer is longer than ${maxBytes} bytes`) : error));
        response.on('close', () => {
          if (tooLong) reject(new ApiError(0, `${what}: the answer is longer than ${maxBytes} bytes`));
        });
        response.on('end', () => {
          // Destroyed for its length with the rest already read, the answer still ends: 'close' rejects it.
          if (tooLong) return;
          const status = response.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (status >= 200 && status < 300) return resolve(text);
          reject(new ApiError(status, `${what}: ${status} ${apiMessage(text.slice(0, ERROR_BODY_BYTES))}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${what}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The message of a metav1.Status answer, else the text itself. */
function apiMessage(text: string): string {
  try {
    const status = JSON.parse(text) as { message?: unknown };
    if (typeof status.message === 'string') return status.message;
  } catch {
    // not JSON (a proxy's page, or cut short): the text says what there is to say
  }
  return text;
}

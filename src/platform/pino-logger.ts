import { pino, destination, type DestinationStream } from 'pino';
import type { Logger } from '../core/ports/logger.js';

/** Secrets never reach the logs, wherever they sit in a logged request. */
export const REDACTED_PATHS = ['secrets', '*.secrets', 'request.secrets', 'req.secrets'];

/** `level` comes from the settings (--log-level, NIXMOUNT_LOG_LEVEL); nothing here reads the environment. */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  const base = pino(
    { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    options.destination ?? destination(2),
  );
  return base as unknown as Logger;
}

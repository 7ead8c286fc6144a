export const Logger = Symbol('Logger');

type LogFn = (fields: Record<string, unknown> | string, message?: string) => void;

/** The subset of pino the core uses, so tests can bind a silent or recording logger. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

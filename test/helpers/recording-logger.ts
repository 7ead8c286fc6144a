import type { Logger } from '../../src/core/ports/logger.js';

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

/** A Logger keeping every record in memory (children share the list), to count what the code did. */
export class RecordingLogger implements Logger {
  constructor(
    readonly records: LogRecord[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}

  debug = this.writer('debug');
  info = this.writer('info');
  warn = this.writer('warn');
  error = this.writer('error');

  child(bindings: Record<string, unknown>): Logger {
    return new RecordingLogger(this.records, { ...this.bindings, ...bindings });
  }

  count(message: string): number {
    return this.records.filter((record) => record.message === message).length;
  }

  private writer(level: LogRecord['level']) {
    return (fields: Record<string, unknown> | string, message?: string) => {
      if (typeof fields === 'string') this.records.push({ level, message: fields, fields: { ...this.bindings } });
      else this.records.push({ level, message: message ?? '', fields: { ...this.bindings, ...fields } });
    };
  }
}

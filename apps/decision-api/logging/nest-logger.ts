/**
 * Nest's LoggerService over pino: Nest's own messages (bootstrap, mapped routes, errors) and every `new Logger(context)`
 * in the service come out as the same JSON lines as the rest, with `context` as a field.
 */
import type { LoggerService } from '@nestjs/common';
import type { Level, Logger } from 'pino';
import { safeError } from './logger.js';

export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params, false);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params, false);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params, false);
  }

  // pino's trace level sits below LOG_LEVEL=debug; Nest's verbose messages show with debug.
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params, false);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params, true);
  }

  /**
   * Nest's calling convention (its ConsoleLogger's): a trailing string is the context; for error and fatal, a string
   * (or undefined) before it is the stack.
   */
  private write(level: Level, message: unknown, params: unknown[], withStack: boolean): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const rest = [...params];
    const context = rest.length > 0 && typeof rest.at(-1) === 'string' ? (rest.pop() as string) : undefined;
    const stack = withStack && rest.length > 0 && (typeof rest[0] === 'string' || rest[0] === undefined) ? (rest.shift() as string | undefined) : undefined;
    const fields: Record<string, unknown> = {};
    if (context !== undefined) fields.context = context;
    if (stack !== undefined) fields.stack = stack;
    // pino's err serializer sees only `err`: an error among the extra arguments goes through the same filter.
    if (rest.length > 0) fields.params = rest.map(safeError);
    if (message instanceof Error) {
      fields.err = message;
      // The line's message is the serialized error's: a database error's own message may echo input.
      this.logger[level](fields, (safeError(message) as { message: string }).message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...(message as Record<string, unknown>), ...fields });
    } else {
      this.logger[level](fields, String(message));
    }
  }
}

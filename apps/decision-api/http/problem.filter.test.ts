/**
 * An unexpected error becomes a 500 with a reference, and its log line is an error object (logging/logger.ts
 * safeError): a driver's message, which echoes the request's values, never reaches the log.
 */
import type { Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { DatabaseAvailability } from '../health/database-availability.js';
import { createLoggers } from '../logging/logger.js';
import { PinoNestLogger } from '../logging/nest-logger.js';
import { toProblem } from './problem.filter.js';

describe('toProblem on an unexpected error', () => {
  it('answers 500 with a reference and logs the error as an object, without the echoed input', () => {
    const lines: Record<string, any>[] = [];
    const loggers = createLoggers({ level: 'info', redact: [], pretty: false }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const nest = new PinoNestLogger(loggers.app);
    // What Nest's Logger('ProblemFilter') hands its LoggerService: the message, then (no stack) undefined and the context.
    const logger = { error: (m: unknown) => nest.error(m, undefined, 'ProblemFilter') } as unknown as Logger;
    const database = { report: () => undefined } as unknown as DatabaseAvailability;
    const e = Object.assign(new Error('invalid input syntax for type uuid: "GCSECRETCARD12345"'), { code: '22P02', severity: 'ERROR' });
    const p = toProblem(e, logger, database, { id: 'req-1', method: 'GET', url: '/x' } as FastifyRequest);
    expect(p).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
    const reference = /reference (\S+)$/.exec(p.detail)![1];
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain('GCSECRETCARD12345');
    expect(lines[0]).toMatchObject({ level: 'error', context: 'ProblemFilter', errorId: reference, requestId: 'req-1', err: { code: '22P02', sqlState: '22P02' } });
    expect(lines[0]!.err.stack).toContain('problem.filter.test.ts');
  });
});

/** Runs a state change at most once per (tenant, Idempotency-Key), replaying the first answer byte for byte. */
import { createHash } from 'node:crypto';
import { createParamDecorator, Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { canonicalJson } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { IdempotencyRepository, type Database } from '../../../libs/persistence/index.js';
import { DATABASE } from '../tokens.js';
import { fromDomainError } from '../problem.js';

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
  replayed: boolean;
}

export const JSON_TYPE = 'application/json; charset=utf-8';
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/; // 1–255 printable ASCII, space included (api-contract.md §2)

/** Validates the Idempotency-Key header; missing or malformed is a 400 naming the header. */
export function requireIdempotencyKey(value: string | string[] | undefined): string {
  if (value === undefined || value === '') {
    throw new DomainError('IDEMPOTENCY_KEY_MISSING', 'This call changes state: send an Idempotency-Key header', 'invalid', [
      { path: 'header:Idempotency-Key', message: 'is required' },
    ]);
  }
  if (Array.isArray(value) || !KEY_PATTERN.test(value)) {
    throw new DomainError('IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key must be 1–255 printable ASCII characters', 'invalid', [
      { path: 'header:Idempotency-Key', message: 'must be 1–255 printable ASCII characters' },
    ]);
  }
  return value;
}

/** The validated `Idempotency-Key` header of a state-changing call (400 naming the header when missing or malformed). */
export const IdempotencyKey = createParamDecorator((_: unknown, ctx: ExecutionContext): string =>
  requireIdempotencyKey(ctx.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers['idempotency-key']),
);

/** Canonical JSON (sorted keys): the same body sent with its keys in another order is still "the same body". */
export function requestHash(method: string, route: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${route}\n${canonicalJson(body)}`).digest('hex');
}

@Injectable()
export class IdempotencyService {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly repo: IdempotencyRepository,
  ) {}

  /**
   * Claims the key and runs `effect` in ONE transaction, storing its answer with it. Business refusals (422) are
   * stored and replayed too: the effect runs in a savepoint that is rolled back, and the refusal is committed.
   */
  async run(
    input: { tenant: string; key: string; method: string; route: string; body: unknown; now: Date },
    effect: (em: SqlEntityManager) => Promise<{ status: number; body: unknown; contentType?: string }>,
  ): Promise<HttpAnswer> {
    const hash = requestHash(input.method, input.route, input.body);
    return this.db.em().transactional(async (em) => {
      const claimed = await this.repo.claim(em, {
        tenant: input.tenant,
        key: input.key,
        requestHash: hash,
        method: input.method,
        path: input.route,
        now: input.now,
      });
      if (!claimed) return this.replayFrom(em, input.tenant, input.key, hash);
      let status: number;
      let body: string;
      let contentType = JSON_TYPE;
      try {
        const out = await em.transactional((inner) => effect(inner));
        status = out.status;
        body = JSON.stringify(out.body);
        if (out.contentType) contentType = out.contentType;
      } catch (e) {
        if (!(e instanceof DomainError) || e.kind !== 'unprocessable') throw e;
        const p = fromDomainError(e);
        status = p.status;
        body = JSON.stringify(p);
        contentType = 'application/problem+json';
      }
      await this.repo.complete(em, { tenant: input.tenant, key: input.key, status, contentType, body });
      return { status, contentType, body, replayed: false };
    });
  }

  /** The first answer for this key, if this request is the same one; 422 when the key was used for another. */
  async replay(tenant: string, key: string, hash: string): Promise<HttpAnswer> {
    return this.replayFrom(this.db.em(), tenant, key, hash);
  }

  private async replayFrom(em: SqlEntityManager, tenant: string, key: string, hash: string): Promise<HttpAnswer> {
    const stored = await this.repo.find(em, tenant, key);
    if (stored && stored.requestHash !== hash) {
      throw new DomainError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was already used with a different request body or endpoint',
        'unprocessable',
        [{ path: 'header:Idempotency-Key', message: 'was used for another request' }],
      );
    }
    if (!stored?.answer) {
      throw new DomainError('IDEMPOTENCY_KEY_IN_PROGRESS', 'A request with this Idempotency-Key is still in progress', 'conflict');
    }
    return { ...stored.answer, replayed: true };
  }
}

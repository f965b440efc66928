/**
 * The one place that runs state changes at most once per (tenant, Idempotency-Key): a route marked
 * `@IdempotentCommand()` returns a Command (commands/command.ts); this interceptor validates the key, claims it, applies
 * the command in the same transaction, turns its Outcome into a status code and a body (problem+json for refusals, via
 * the problem mapper), stores that answer with the claim, and replays it byte for byte for the same request again.
 */
import { createHash, createHmac, type KeyObject } from 'node:crypto';
import {
  applyDecorators,
  Inject,
  Injectable,
  Logger,
  SetMetadata,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiHeader } from '@nestjs/swagger';
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, map, type Observable } from 'rxjs';
import { canonicalJson } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { IdempotencyRepository, isIdempotencyKeyTaken, KeyedQueue, LAST_STATEMENT, type Clock, type Database, type Principal } from '../../../libs/persistence/index.js';
import type { Command, Outcome } from '../commands/command.js';
import { Pseudonyms } from '../decisions/pseudonyms.js';
import { Metrics } from '../metrics/metrics.js';
import { fromDomainError, withRequestId } from '../problem.js';
import { CLOCK, DATABASE } from '../tokens.js';

export const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json';
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/; // 1–255 printable ASCII, space included (api-contract.md §2)

/** An answer as sent and stored: replays send the same bytes. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
  replayed: boolean;
}

/** What each outcome is in HTTP. Refusals take their status from the error's kind (the problem mapper). */
const STATUS: Record<Exclude<Outcome['result'], 'refused'>, number> = { created: 201, unchanged: 200, done: 200, accepted: 202 };

/**
 * An outcome as an HTTP answer: the only mapping from what happened to a status code. A refusal names the request that
 * made it (`requestId`); stored with the claim, it is replayed byte for byte, that first request's id included.
 */
export function answerOf(o: Outcome, requestId: string): HttpAnswer {
  if (o.result === 'refused') {
    const p = withRequestId(fromDomainError(o.error), requestId);
    return { status: p.status, contentType: PROBLEM_TYPE, body: JSON.stringify(p), replayed: false };
  }
  return { status: STATUS[o.result], contentType: JSON_TYPE, body: o.json ?? JSON.stringify(o.value), replayed: false };
}

/** The answer for the request that made the outcome: the stored one plus the secret fields only it may see. */
function revealed(o: Outcome, stored: HttpAnswer): HttpAnswer {
  if (o.result === 'refused' || !o.secret) return stored;
  return { ...stored, body: JSON.stringify({ ...(o.value as Record<string, unknown>), ...o.secret }) };
}

export function sendAnswer(reply: FastifyReply, a: HttpAnswer): FastifyReply {
  reply.status(a.status).header('content-type', a.contentType);
  if (a.replayed) reply.header('idempotent-replayed', 'true');
  return reply.send(a.body);
}

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

/**
 * A keyed request hash starts with this; a hash stored before keys were used is bare hex until re-keyed at start
 * (REKEYED_HASH_PREFIX: the tenant's HMAC of that old digest).
 */
export const KEYED_HASH_PREFIX = 'k1:';

/**
 * What is stored to recognise the same request under a key: HMAC-SHA256 with the tenant's request key over the
 * method, the path and the canonical JSON (sorted keys) of the body and query, so the same body with its keys in
 * another order is still "the same body". Keyed, because the stored hash of a low-entropy body (an erasure's raw
 * customer id) could otherwise be found again by hashing guesses.
 */
export function requestHash(method: string, path: string, identity: unknown, key: KeyObject): RequestHash {
  const text = `${method} ${path}\n${canonicalJson(identity)}`;
  const hash = KEYED_HASH_PREFIX + createHmac('sha256', key).update(text).digest('hex');
  return {
    hash,
    matches: (stored) => {
      if (stored.startsWith(KEYED_HASH_PREFIX)) return stored === hash;
      // Records stored before keyed hashes: sha256 of the same text, bare or re-keyed; computed only when one is compared.
      const legacy = createHash('sha256').update(text).digest('hex');
      return stored.startsWith(REKEYED_HASH_PREFIX) ? stored === rekeyedHash(legacy, key) : stored === legacy;
    },
  };
}

export const REKEYED_HASH_PREFIX = 'k0:';

/** A hash stored before keyed hashes (bare sha256 hex), re-keyed: nothing guessable is left stored. */
export function rekeyedHash(legacy: string, key: KeyObject): string {
  return REKEYED_HASH_PREFIX + createHmac('sha256', key).update(legacy).digest('hex');
}

export interface RequestHash {
  /** Stored with a new claim. */
  hash: string;
  /** A stored hash is this request's (keyed, or unkeyed from before). */
  matches(stored: string): boolean;
}

/** What identifies a request besides method and path: its body (raw bytes by their digest) and its query parameters. */
function identityOf(req: FastifyRequest): unknown {
  const body = req.body instanceof Uint8Array ? { sha256: createHash('sha256').update(req.body).digest('hex') } : (req.body ?? {});
  return { body, query: (req.query as Record<string, unknown> | undefined) ?? {} };
}

/** The path as the route saw it: percent-escapes decoded, so `1%2E0%2E0` and `1.0.0` are one request. */
function pathOf(req: FastifyRequest): string {
  const raw = req.url.split('?')[0]!;
  try {
    const decoded = decodeURIComponent(raw);
    // The path is stored with the claim: a NUL (which PostgreSQL text cannot hold) stays escaped.
    return decoded.includes('\u0000') ? raw : decoded;
  } catch {
    return raw;
  }
}

/** The route template (a label: never the raw path with its ids). */
const route = (req: FastifyRequest): string => req.routeOptions.url ?? 'unmatched';

export interface IdempotentCommandOptions {
  /**
   * A route whose answer names a stored decision: the top-level field of its body (success or problem+json) holding
   * the decision's id. The access line then carries that id, a replayed answer's included.
   */
  decisionIdIn?: string;
}

const DECISION_ID_IN = 'idempotent-command:decision-id-in';

/**
 * The access line's decision id from an answer's body, unless the service noted it already (a fresh refund decision
 * does, without this parse). The body is JSON this process wrote (or stored): a parse failure is not the client's.
 */
function noteDecision(req: FastifyRequest, field: string | undefined, a: Pick<HttpAnswer, 'status' | 'body'>): void {
  if (!field || req.decisionId || a.status >= 500) return;
  try {
    const id = (JSON.parse(a.body) as Record<string, unknown>)[field];
    if (typeof id === 'string') req.decisionId = id;
  } catch {
    // Not JSON: nothing to note.
  }
}

/**
 * Marks a state-changing route: the handler returns a Command, the mechanism answers. The route must take `@Res()`
 * (unused by the handler): Nest then leaves sending to the mechanism, whose status depends on the outcome.
 */
export const IdempotentCommand = (options: IdempotentCommandOptions = {}): MethodDecorator =>
  applyDecorators(
    UseInterceptors(IdempotentCommandInterceptor),
    ...(options.decisionIdIn ? [SetMetadata(DECISION_ID_IN, options.decisionIdIn)] : []),
    ApiHeader({
      name: 'Idempotency-Key',
      required: true,
      description: '1–255 printable ASCII; the same key and body replays the first answer',
      schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' },
    }),
  );

@Injectable()
export class IdempotentCommandInterceptor implements NestInterceptor {
  private readonly logger = new Logger('IdempotentCommand');

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly repo: IdempotencyRepository,
    private readonly queue: KeyedQueue,
    private readonly metrics: Metrics,
    private readonly reflector: Reflector,
    private readonly pseudonyms: Pseudonyms,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler<Command>): Observable<void> {
    const http = ctx.switchToHttp();
    const req = http.getRequest<FastifyRequest & { principal?: Principal }>();
    const reply = http.getResponse<FastifyReply>();
    // Before the handler: a request without a usable key does no work at all.
    const key = requireIdempotencyKey(req.headers['idempotency-key']);
    const decisionIdIn = this.reflector.get<string | undefined>(DECISION_ID_IN, ctx.getHandler());
    return from(
      (async () => {
        const tenant = req.principal!.tenant;
        const path = pathOf(req);
        const hash = requestHash(req.method, path, identityOf(req), this.pseudonyms.requestKey(tenant));
        let command: Command;
        try {
          command = await lastValueFrom(next.handle());
        } catch (e) {
          // The handler checks the request against today's state (the active release, its schemas). A request already
          // answered under this key gets that answer again, whatever today would say.
          if (!(e instanceof DomainError)) throw e;
          const stored = await this.answered(tenant, key, hash);
          if (stored) {
            this.metrics.idempotentReplay(tenant, route(req));
            noteDecision(req, decisionIdIn, stored);
            return sendAnswer(reply, stored);
          }
          throw e;
        }
        const now = this.clock.now();
        const run = () => this.execute(command, { tenant, key, hash, method: req.method, path, now, requestId: req.id });
        // Requests with this key, then commands on this row, take turns here rather than on the key's or the row's lock
        // in PostgreSQL, each holding a pooled connection while it waits. Always in this order: no two requests can
        // wait on each other.
        const queueKey = command.kind === 'transactional' ? command.queueKey : undefined;
        const answer = await this.queue.run(`${tenant}\u0000key\u0000${key}`, () =>
          queueKey === undefined ? run() : this.queue.run(`${tenant}\u0000row\u0000${queueKey}`, run),
        );
        if (answer.replayed) this.metrics.idempotentReplay(tenant, route(req));
        noteDecision(req, decisionIdIn, answer);
        sendAnswer(reply, answer);
      })(),
    ).pipe(map(() => undefined));
  }

  private async execute(
    command: Command,
    r: { tenant: string; key: string; hash: RequestHash; method: string; path: string; now: Date; requestId: string },
  ): Promise<HttpAnswer> {
    if (command.kind === 'statement') {
      const claim = { key: r.key, requestHash: r.hash.hash, method: r.method, path: r.path, status: 201, contentType: JSON_TYPE };
      const outcome = await command.applyClaimed({ claim, now: r.now });
      if (outcome === 'taken') return this.replay(this.db.em(), r.tenant, r.key, r.hash);
      await this.afterCommit(command, outcome);
      return answerOf(outcome, r.requestId);
    }
    let made: Outcome | undefined;
    let answer: HttpAnswer;
    try {
      answer = await this.db.em().transactional(async (em) => {
        // Held (HELD): the claim goes out with the effect's first statement or its SAVEPOINT, or with the answer. When
        // another request took the key, that batch fails in its place (isIdempotencyKeyTaken) and nothing commits.
        await this.repo.claim(em, { tenant: r.tenant, key: r.key, requestHash: r.hash.hash, method: r.method, path: r.path, now: r.now });
        let outcome: Outcome;
        try {
          // A savepoint: a refusal thrown by the effect rolls back what it wrote, and the refusal is still stored. An
          // effect that refuses before writing anything has nothing to roll back.
          outcome = command.refusesBeforeWriting
            ? await command.apply({ em, now: r.now, key: r.key })
            : await em.transactional((inner) => command.apply({ em: inner, now: r.now, key: r.key }));
        } catch (e) {
          if (!(e instanceof DomainError) || e.kind !== 'unprocessable') throw e;
          outcome = { result: 'refused', error: e };
        }
        const a = answerOf(outcome, r.requestId);
        // Before the COMMIT: nothing may fail after it (the change would stand, answered as an error).
        const shown = revealed(outcome, a);
        // The answer is the transaction's last statement and goes out with its COMMIT (THEN_COMMIT): one round trip
        // fewer for every state change. Whatever the effect left in the ORM's unit of work is written first: a flush
        // after the COMMIT would be refused, and the transaction it belonged to already committed without it.
        await em.flush();
        await this.repo.complete(em, { tenant: r.tenant, key: r.key, status: a.status, contentType: a.contentType, body: a.body }, LAST_STATEMENT);
        made = outcome;
        return shown;
      });
    } catch (e) {
      // Another request took the key (the claim waited for it to commit): its answer, or 422 for another body.
      if (isIdempotencyKeyTaken(e)) return this.replay(this.db.em(), r.tenant, r.key, r.hash);
      // An effect that refused (409, 404, ...) before its first statement did so before the claim went out: the same
      // request answered under this key already gets that answer again, as a refusal by the handler does (intercept).
      const stored = e instanceof DomainError ? await this.answered(r.tenant, r.key, r.hash).catch(() => undefined) : undefined; // else the refusal stands
      if (stored) return stored;
      throw e;
    }
    if (made) await this.afterCommit(command, made);
    return answer;
  }

  /** The answer stored for this same request under this key, replayed; undefined when there is none. */
  private async answered(tenant: string, key: string, hash: RequestHash): Promise<HttpAnswer | undefined> {
    const stored = await this.repo.find(this.db.em(), tenant, key);
    return stored?.answer && hash.matches(stored.requestHash) ? { ...stored.answer, replayed: true } : undefined;
  }

  /** Committed already: a failure here must not turn the answer into an error (the change stands; polls catch up). */
  private async afterCommit(command: Command, outcome: Outcome): Promise<void> {
    try {
      await command.afterCommit?.(outcome);
    } catch (e) {
      this.logger.error({ msg: 'after-commit work failed (the change is committed)', err: e });
    }
  }

  /** The first answer for this key, if this request is the same one; 422 when the key was used for another. */
  private async replay(em: SqlEntityManager, tenant: string, key: string, hash: RequestHash): Promise<HttpAnswer> {
    const stored = await this.repo.find(em, tenant, key);
    if (stored && !hash.matches(stored.requestHash)) {
      throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with a different request body or endpoint', 'unprocessable', [
        { path: 'header:Idempotency-Key', message: 'was used for another request' },
      ]);
    }
    if (!stored?.answer) {
      throw new DomainError('IDEMPOTENCY_KEY_IN_PROGRESS', 'A request with this Idempotency-Key is still in progress', 'conflict');
    }
    return { ...stored.answer, replayed: true };
  }
}

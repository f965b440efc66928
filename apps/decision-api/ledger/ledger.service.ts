/** Reward ledger over HTTP: each call is one transaction holding the idempotency record, the ledger change and, for redemptions, the gate decision. */
import { Inject, Injectable } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { SchemaValidator, type FileComponentSource } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import {
  canonicalTimestamp,
  Ledger,
  REDEMPTION_GATE_ENTRYPOINT,
  transactionView,
  type RedemptionOutcome,
} from '../../../libs/ledger/index.js';
import {
  CatalogueRepository,
  DecisionsRepository,
  PgLedgerStoreFactory,
  type Clock,
  type Database,
  type IdFactory,
  type Principal,
} from '../../../libs/persistence/index.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { IdempotencyService, type HttpAnswer } from '../http/idempotency.service.js';
import { fromDomainError } from '../problem.js';
import { ReleaseRegistry } from '../releases/release.registry.js';
import { CLOCK, CONTENT_SOURCE, DATABASE, ID_FACTORY } from '../tokens.js';
import { ProgramCatalogue } from './program.resolver.js';
import { ledgerSchemas } from './ledger.schemas.js';
import type { CompiledRelease } from '../../../libs/decisions/index.js';

const v = {
  account: new SchemaValidator<{ program: string; currency: string; cycleAnchorDay: number }>(ledgerSchemas.account, 'Account'),
  purchase: new SchemaValidator<{ transactionId: string; amount: number; category: string; occurredAt: string }>(ledgerSchemas.purchase, 'Transaction'),
  settle: new SchemaValidator<{ settledAt: string }>(ledgerSchemas.settle, 'Settlement'),
  refund: new SchemaValidator<{ refundId: string; amount: number; at: string }>(ledgerSchemas.refund, 'Refund'),
  chargeback: new SchemaValidator<{ chargebackId: string; amount: number; at: string }>(ledgerSchemas.chargeback, 'Chargeback'),
  redemption: new SchemaValidator<{ redemptionId: string; amount: number; at: string }>(ledgerSchemas.redemption, 'Redemption'),
  statement: new SchemaValidator<{ periodEnd: string }>(ledgerSchemas.statement, 'Statement'),
};

interface Call {
  principal: Principal;
  key: string;
  route: string;
  body: unknown;
}

@Injectable()
export class LedgerService {
  private readonly programs = new ProgramCatalogue();

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CONTENT_SOURCE) private readonly files: FileComponentSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_FACTORY) private readonly ids: IdFactory,
    private readonly releases: ReleaseRegistry,
    private readonly idempotency: IdempotencyService,
    private readonly stores: PgLedgerStoreFactory,
    private readonly catalogue: CatalogueRepository,
    private readonly decisions: DecisionsRepository,
  ) {}

  /** Programs read through `em`, the request's transaction (see ProgramCatalogue.resolver). */
  private programsVia(em: SqlEntityManager) {
    return this.programs.resolver({
      content: (tenant, name, version) => this.releases.source(tenant, em).pack(name, version),
      versions: async (tenant, name) => [
        ...(await this.files.packVersions(name)),
        ...(await this.catalogue.listPacks(em, tenant)).filter((p) => p.name === name).map((p) => p.version),
      ],
    });
  }

  private ledger(em: SqlEntityManager, tenant: string, gate = this.releases.redemptionGate(tenant).gate): Ledger {
    return new Ledger(this.stores.create(em), this.programsVia(em), gate);
  }

  private write(c: Call, status: number, fn: (ledger: Ledger, em: SqlEntityManager) => Promise<unknown>): Promise<HttpAnswer> {
    return this.idempotency.run(
      { tenant: c.principal.tenant, key: c.key, method: 'POST', route: c.route, body: c.body, now: this.clock.now() },
      async (em) => ({ status, body: await fn(this.ledger(em, c.principal.tenant), em) }),
    );
  }

  /** PUT is idempotent by itself (the same body twice changes nothing), so it needs no Idempotency-Key. */
  async openAccount(p: Principal, accountId: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const input = v.account.validate(body);
    return this.db.em().transactional(async (em) => {
      const ledger = this.ledger(em, p.tenant);
      const { created } = await ledger.openAccount(p.tenant, accountId, input);
      return { status: created ? 201 : 200, body: await ledger.view(p.tenant, accountId) };
    });
  }

  recordPurchase(c: Call, accountId: string): Promise<HttpAnswer> {
    const input = v.purchase.validate(c.body);
    return this.write(c, 201, async (l) => transactionView(await l.recordPurchase(c.principal.tenant, accountId, input)));
  }

  settle(c: Call, transactionId: string): Promise<HttpAnswer> {
    const input = v.settle.validate(c.body);
    return this.write(c, 200, async (l) => transactionView(await l.settle(c.principal.tenant, transactionId, input)));
  }

  refund(c: Call, transactionId: string): Promise<HttpAnswer> {
    const input = v.refund.validate(c.body);
    return this.write(c, 201, async (l) => {
      const r = await l.refund(c.principal.tenant, transactionId, input);
      return { transaction: transactionView(r.transaction), adjustment: r.adjustment, entry: r.entry };
    });
  }

  chargeback(c: Call, transactionId: string): Promise<HttpAnswer> {
    const input = v.chargeback.validate(c.body);
    return this.write(c, 201, async (l) => {
      const r = await l.chargeback(c.principal.tenant, transactionId, input);
      return { transaction: transactionView(r.transaction), adjustment: r.adjustment, entry: r.entry };
    });
  }

  closeStatement(c: Call, accountId: string): Promise<HttpAnswer> {
    const input = v.statement.validate(c.body);
    return this.write(c, 201, (l) => l.closeStatement(c.principal.tenant, accountId, input));
  }

  /**
   * Algorithm 3: the gate decides, the decision is stored as a `redemption` decision either way, and only an allowed
   * redemption debits. A refusal is answered 422 with the gate's reasons — and its decision row is kept.
   */
  redeem(c: Call, accountId: string): Promise<HttpAnswer> {
    const raw = v.redemption.validate(c.body);
    // Answer business time in the ledger's canonical form, like every other ledger response.
    const input = { ...raw, at: canonicalTimestamp(raw.at) ?? raw.at };
    const tenant = c.principal.tenant;
    return this.idempotency.run({ tenant, key: c.key, method: 'POST', route: c.route, body: c.body, now: this.clock.now() }, async (em) => {
      const { release, gate } = this.releases.redemptionGate(tenant);
      const out = await this.ledger(em, tenant, gate).redeem(tenant, accountId, input);
      const decisionId = out.replayed ? null : await this.storeGateDecision(em, tenant, accountId, input, out, release, c.key);
      if (out.allowed) {
        return {
          status: 201,
          body: { redemptionId: input.redemptionId, accountId, amount: input.amount, at: input.at, balance: out.account.balance, entry: out.entry, decisionId, gate: out.gate },
        };
      }
      const first = out.reasons[0];
      const refusal = new DomainError(first?.code ?? 'REDEMPTION_REFUSED', out.reasons.map((r) => r.message).join('; '), 'unprocessable', [], {
        reasons: out.reasons,
        decisionId,
      });
      return { status: 422, contentType: 'application/problem+json', body: fromDomainError(refusal) };
    });
  }

  private async storeGateDecision(
    em: SqlEntityManager,
    tenant: string,
    accountId: string,
    input: { redemptionId: string; amount: number; at: string },
    out: RedemptionOutcome,
    release: CompiledRelease,
    idempotencyKey: string,
  ): Promise<string> {
    // Read after the gate decided (the claim's time is earlier): evaluatedAt is when the decision was made.
    const now = this.clock.now();
    const id = this.ids.next(now);
    const outcome = out.allowed ? 'APPROVE' : 'DENY';
    const document = {
      id,
      tenant,
      domain: 'redemption',
      createdAt: now.toISOString(),
      accountId,
      redemptionId: input.redemptionId,
      amount: input.amount,
      at: input.at,
      outcome,
      reasons: out.reasons.map((r) => ({ code: r.code, message: r.message, source: out.gate.ref, rule: REDEMPTION_GATE_ENTRYPOINT, effect: 'DENY' })),
      program: out.account.programRef,
      release: release.ref,
      trace: [{ source: out.gate.ref, rule: REDEMPTION_GATE_ENTRYPOINT, fired: !out.allowed, input: out.gate.input, output: out.gate.output }],
    };
    await this.decisions.insert(em, {
      id,
      tenant,
      domain: 'redemption',
      outcome,
      riskScore: null,
      releaseName: release.ref.name,
      releaseVersion: release.ref.version,
      components: release.ref.components,
      caseData: out.gate.input,
      document,
      idempotencyKey,
      evaluatedAt: now,
      createdAt: now,
    });
    return id;
  }

  // Reads run in one transaction too, so every query of the call shares its connection (PGlite has only one).
  view(p: Principal, accountId: string) {
    return this.db.em().transactional((em) => this.ledger(em, p.tenant).view(p.tenant, accountId));
  }

  transaction(p: Principal, transactionId: string) {
    return this.db.em().transactional((em) => this.ledger(em, p.tenant).transaction(p.tenant, transactionId));
  }

  async entries(p: Principal, accountId: string, limit: number, afterSeq: number | undefined) {
    const em = this.db.em();
    const store = this.stores.create(em);
    if (!(await store.accountExists(p.tenant, accountId))) {
      throw new DomainError('ACCOUNT_NOT_FOUND', `No ledger account ${accountId}`, 'not_found');
    }
    const rows = await store.entries(p.tenant, accountId, { limit: limit + 1, afterSeq });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page,
      nextCursor: rows.length > limit && last ? encodeCursor({ afterSeq: last.seq }) : null,
    };
  }
}

export const decodeEntriesCursor = (cursor: string): number =>
  decodeCursor(cursor, (v) => (typeof v.afterSeq === 'number' && Number.isInteger(v.afterSeq) && v.afterSeq >= 0 ? v.afterSeq : undefined));

/** Reward ledger over HTTP: each call is one transaction holding the idempotency record, the ledger change and, for redemptions, the gate decision. */
import { Inject, Injectable } from '@nestjs/common';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { keyActor, SYSTEM_ACTOR, type Actor } from '../../../libs/audit/index.js';
import { SchemaValidator, type FileComponentSource } from '../../../libs/decisions/index.js';
import { DomainError } from '../../../libs/errors/index.js';
import { postClawback, type Clawback, type PaidRefund, type RewardReference } from '../../../libs/payments/index.js';
import {
  canonicalTimestamp,
  Ledger,
  transactionView,
  type RedemptionGate,
  type RedemptionOutcome,
} from '../../../libs/ledger/index.js';
import {
  AuditRepository,
  CatalogueRepository,
  DecisionsRepository,
  PayoutsRepository,
  PgLedgerStoreFactory,
  violatedAccounts,
  type Clock,
  type Database,
  type IdFactory,
  type Principal,
} from '../../../libs/persistence/index.js';
import { auditEntry } from '../audit/audit-entry.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { created, done, refused, transactional, unchanged, type Outcome, type TransactionalCommand } from '../commands/command.js';
import { Metrics } from '../metrics/metrics.js';
import { REDEMPTION_TYPE, ReleaseRegistry } from '../releases/release.registry.js';
import { CLOCK, CONTENT_SOURCE, DATABASE, ID_FACTORY } from '../tokens.js';
import { ProgramCatalogue } from './program.resolver.js';
import { TransactionAccounts } from './transaction-accounts.js';
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

/** A ledger write as its command: the account's ledger over the command's transaction, and what happened. */
type LedgerEffect<T> = (ledger: Ledger, em: SqlEntityManager) => Promise<T>;

@Injectable()
export class LedgerService {
  private readonly programs = new ProgramCatalogue();
  private readonly transactionAccounts = new TransactionAccounts();

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(CONTENT_SOURCE) private readonly files: FileComponentSource,
    @Inject(ID_FACTORY) private readonly ids: IdFactory,
    private readonly releases: ReleaseRegistry,
    private readonly stores: PgLedgerStoreFactory,
    private readonly catalogue: CatalogueRepository,
    private readonly decisions: DecisionsRepository,
    private readonly payouts: PayoutsRepository,
    private readonly audit: AuditRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: Metrics,
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

  /**
   * The tenant's ledger over `em`. Only a redemption asks the gate, so other calls take it lazily: a release without a
   * redemption type refuses redemptions, not purchases, refunds or reads.
   */
  private ledger(em: SqlEntityManager, tenant: string, gate?: RedemptionGate, actor?: Actor): Ledger {
    return new Ledger(this.stores.create(em, actor), this.programsVia(em), gate ?? this.lazyGate(tenant));
  }

  private lazyGate(tenant: string): RedemptionGate {
    const gate = () => this.releases.redemptionGate(tenant).gate;
    return {
      get ref() {
        return gate().ref;
      },
      evaluate: (input) => gate().evaluate(input),
    };
  }

  /**
   * One ledger unit of work stages its writes and flushes them last, so every refusal it throws comes before any write
   * and the command needs no savepoint (`single`). An effect of several units or other writes (settle: the settlement,
   * then deferred clawbacks) keeps the savepoint: a refusal after its first flush must still undo that flush.
   */
  private write<T>(p: Principal, queueKey: string, made: (value: T) => Outcome<T>, fn: LedgerEffect<T>, single = true): TransactionalCommand<T> {
    return transactional(async ({ em }) => made(await fn(this.ledger(em, p.tenant, undefined, keyActor(p, 'service')), em)), {
      refusesBeforeWriting: single,
      queueKey,
      afterCommit: (outcome) => this.rememberAccount(p.tenant, outcome),
    });
  }

  /** The queue of the row a write naming this transaction locks last: its account's, once this instance knows it. */
  private transactionRow(p: Principal, transactionId: string): string {
    const account = this.transactionAccounts.of(p.tenant, transactionId);
    return account === undefined ? transactionQueue(transactionId) : accountQueue(account);
  }

  /** A committed write's transaction (a purchase, a settlement: the view; a refund, a chargeback: `.transaction`). */
  private rememberAccount(tenant: string, outcome: Outcome<unknown>): void {
    if (!('value' in outcome)) return;
    const value = outcome.value as { transactionId?: unknown; accountId?: unknown; transaction?: { transactionId?: unknown; accountId?: unknown } } | undefined;
    const t = value?.transaction ?? value;
    if (typeof t?.transactionId === 'string' && typeof t.accountId === 'string') this.transactionAccounts.remember(tenant, t.transactionId, t.accountId);
  }

  /** PUT is idempotent by itself (the same body twice changes nothing), so it needs no Idempotency-Key. */
  async openAccount(p: Principal, accountId: string, body: unknown): Promise<Outcome<unknown>> {
    const input = v.account.validate(body);
    return this.db.em().transactional(async (em) => {
      const ledger = this.ledger(em, p.tenant, undefined, keyActor(p, 'service'));
      const opened = await ledger.openAccount(p.tenant, accountId, input);
      // An account has no append-only row of its own to name who opened it (its entries name who wrote them).
      if (opened.created) {
        await this.audit.append(em, auditEntry(p, 'service', this.clock.now(), 'ledger.account_opened', 'ledger_account', accountId, { program: input.program, currency: input.currency }));
      }
      const view = await ledger.view(p.tenant, accountId);
      return opened.created ? created(view) : unchanged(view);
    });
  }

  recordPurchase(p: Principal, accountId: string, body: unknown) {
    const input = v.purchase.validate(body);
    return this.write(p, accountQueue(accountId), created, async (l) => transactionView(await l.recordPurchase(p.tenant, accountId, input)));
  }

  /**
   * Settles the purchase; refunds of it paid before it settled (their clawback `deferred`) have their clawback posted
   * now, in this transaction, at the settlement's time: the reward exists from here on, and so must its clawback.
   */
  settle(p: Principal, transactionId: string, body: unknown) {
    const input = v.settle.validate(body);
    return this.write(p, this.transactionRow(p, transactionId), done, async (l, em) => {
      const settled = transactionView(await l.settle(p.tenant, transactionId, input));
      const waiting = await this.payouts.deferredClawbacks(em, p.tenant, transactionId);
      if (waiting.length === 0) return settled;
      for (const r of waiting) {
        const posted = await this.clawback(em, p.tenant, r.reward, { refundId: r.refundId, amount: r.amount, currency: r.currency, at: input.settledAt }, keyActor(p, 'service'));
        await this.payouts.recordClawback(em, p.tenant, r.refundId, posted, new Date(input.settledAt));
      }
      // The answer shows the transaction after its clawbacks (as every write answers: without the GET's last writer).
      const { actor: _lastWriter, ...after } = await l.transaction(p.tenant, transactionId);
      return after;
    }, false);
  }

  refund(p: Principal, transactionId: string, body: unknown) {
    const input = v.refund.validate(body);
    return this.write(p, this.transactionRow(p, transactionId), created, async (l) => {
      const r = await l.refund(p.tenant, transactionId, input);
      return { transaction: transactionView(r.transaction), adjustment: r.adjustment, entry: r.entry };
    });
  }

  chargeback(p: Principal, transactionId: string, body: unknown) {
    const input = v.chargeback.validate(body);
    return this.write(p, this.transactionRow(p, transactionId), created, async (l) => {
      const r = await l.chargeback(p.tenant, transactionId, input);
      return { transaction: transactionView(r.transaction), adjustment: r.adjustment, entry: r.entry };
    });
  }

  closeStatement(p: Principal, accountId: string, body: unknown) {
    const input = v.statement.validate(body);
    return this.write(p, accountQueue(accountId), created, (l) => l.closeStatement(p.tenant, accountId, input));
  }

  /**
   * Algorithm 3: the gate decides, the decision is stored as a `redemption` decision either way, and only an allowed
   * redemption debits. A refusal is answered 422 with the gate's reasons — and its decision row is kept.
   */
  redeem(p: Principal, accountId: string, body: unknown) {
    const raw = v.redemption.validate(body);
    // Answer business time in the ledger's canonical form, like every other ledger response.
    const input = { ...raw, at: canonicalTimestamp(raw.at) ?? raw.at };
    const tenant = p.tenant;
    let stored: { release: string; outcome: string; reasons: readonly { code: string }[] } | undefined;
    return transactional(async ({ em, now, key }) => {
      const { release, gate } = this.releases.redemptionGate(tenant);
      // The gate's decision id, minted when first asked for: kept with an allowed redemption (the same redemption sent
      // again names it), then the stored decision's. A replay mints none.
      let gateDecisionId: string | undefined;
      const decisionIdOnce = () => (gateDecisionId ??= this.ids.next(now));
      const out = await this.ledger(em, tenant, gate, keyActor(p, 'service')).redeem(tenant, accountId, input, { decisionId: decisionIdOnce });
      // A replay is not evaluated again: it names the decision that allowed it (null for a redemption made before ids were kept).
      const decisionId = out.replayed
        ? (out.decisionId ?? null)
        : await this.storeGateDecision(em, decisionIdOnce(), { tenant, accountId, input, out, release, entrypoint: gate.entrypoint, key, now, actor: keyActor(p, 'service') });
      if (!out.replayed) stored = { release: `${release.ref.name}@${release.ref.version}`, outcome: out.allowed ? 'APPROVE' : 'DENY', reasons: out.reasons };
      if (out.allowed) {
        return created({ redemptionId: input.redemptionId, accountId, amount: input.amount, at: input.at, balance: out.account.balance, entry: out.entry, decisionId, gate: out.gate });
      }
      const first = out.reasons[0];
      // Refused, and committed: the decision row records the refusal.
      return refused(
        new DomainError(first?.code ?? 'REDEMPTION_REFUSED', out.reasons.map((r) => r.message).join('; '), 'unprocessable', [], { reasons: out.reasons, decisionId }),
      );
    }, {
      refusesBeforeWriting: true,
      queueKey: accountQueue(accountId),
      // The gate's decision is a stored decision of type `redemption`, allowed or refused: counted once committed.
      afterCommit: () => {
        if (stored) this.metrics.decided(tenant, REDEMPTION_TYPE, stored.release, stored.outcome, stored.reasons);
      },
    });
  }

  private async storeGateDecision(
    em: SqlEntityManager,
    id: string,
    d: {
      tenant: string;
      accountId: string;
      input: { redemptionId: string; amount: number; at: string };
      out: RedemptionOutcome;
      release: CompiledRelease;
      /** The gate's entrypoint: the rule its reasons and trace name. */
      entrypoint: string;
      key: string;
      now: Date;
      actor: Actor;
    },
  ): Promise<string> {
    const { tenant, accountId, input, out, release, entrypoint, key: idempotencyKey, now, actor } = d;
    const outcome = out.allowed ? 'APPROVE' : 'DENY';
    const document = {
      id,
      tenant,
      type: 'redemption',
      domain: 'redemption',
      createdAt: now.toISOString(),
      accountId,
      redemptionId: input.redemptionId,
      amount: input.amount,
      at: input.at,
      outcome,
      reasons: out.reasons.map((r) => ({ code: r.code, message: r.message, source: out.gate.ref, rule: entrypoint, effect: 'DENY' })),
      program: out.account.programRef,
      release: release.ref,
      trace: [{ source: out.gate.ref, rule: entrypoint, fired: !out.allowed, input: out.gate.input, output: out.gate.output }],
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
      actor,
    });
    return id;
  }

  /**
   * The ledger refund of a paid refund (its clawback from the immutable original reward), inside `em`: the
   * transaction of the refund's SUCCEEDED transition, so both commit or neither does. Refusals come back as data.
   */
  clawback(em: SqlEntityManager, tenant: string, reward: RewardReference, refund: PaidRefund, actor: Actor = SYSTEM_ACTOR): Promise<Clawback> {
    // The payout worker's clawbacks are the platform's own work (`system`); a settlement's deferred ones are its caller's.
    const store = this.stores.create(em, actor);
    return postClawback(new Ledger(store, this.programsVia(em), this.lazyGate(tenant)), store, tenant, reward, refund);
  }

  // Reads run in one transaction too, so every query of the call shares its connection (PGlite has only one).
  view(p: Principal, accountId: string) {
    return this.db.em().transactional((em) => this.ledger(em, p.tenant).view(p.tenant, accountId));
  }

  async transaction(p: Principal, transactionId: string) {
    const t = await this.db.em().transactional((em) => this.ledger(em, p.tenant).transaction(p.tenant, transactionId));
    // Read committed: its account is known from here on (writes naming it queue there).
    this.transactionAccounts.remember(p.tenant, t.transactionId, t.accountId);
    return t;
  }

  /** Accounts whose Reward Integrity verdict is false (recorded at their last write), by account id. */
  async violatedAccounts(p: Principal, limit: number, afterAccount: string | undefined) {
    const rows = await this.db.em().transactional((em) => violatedAccounts(em, p.tenant, limit + 1, afterAccount));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(violatedView), nextCursor: rows.length > limit && last ? encodeCursor({ afterAccount: last.accountId }) : null };
  }

  async entries(p: Principal, accountId: string, limit: number, afterSeq: number | undefined) {
    // Through the ledger, whose guard refuses an impossible id (a NUL reached PostgreSQL: a 500) as view's does.
    const rows = await this.db.em().transactional((em) => this.ledger(em, p.tenant).entries(p.tenant, accountId, { limit: limit + 1, afterSeq }));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page,
      nextCursor: rows.length > limit && last ? encodeCursor({ afterSeq: last.seq }) : null,
    };
  }
}

/**
 * The row a ledger write locks, as its route names it: writes naming one account (or one transaction) take turns in
 * this process instead of holding a pooled connection each while they wait for its lock. A transaction's writes lock
 * its account too: they queue on the account once this instance has written the transaction (TransactionAccounts),
 * else on the transaction, and then their wait for the account (writes to two transactions of one account) is
 * PostgreSQL's.
 */
const accountQueue = (accountId: string) => `ledger-account:${accountId}`;
const transactionQueue = (transactionId: string) => `ledger-transaction:${transactionId}`;

/** One account of `GET /v1/ledger/accounts?integrity=violated`: the figures and verdict of its last write, and the transactions it names. */
function violatedView(a: Awaited<ReturnType<typeof violatedAccounts>>[number]) {
  const { verdict, transactions } = a.details;
  return {
    accountId: a.accountId,
    program: a.details.program,
    currency: a.details.currency,
    violatedAt: a.violatedAt,
    lastWriteAt: a.details.at,
    balance: verdict.balance,
    redeemed: verdict.redeemed,
    netSpend: verdict.netSpend,
    netReward: verdict.netReward,
    rewardBound: verdict.rewardBound,
    integrity: { rewardIntegrity: verdict.rewardIntegrity, violations: verdict.violations, roundingTolerance: verdict.roundingTolerance },
    transactions,
  };
}

export const decodeAccountsCursor = (cursor: string): string =>
  decodeCursor(cursor, (v) =>
    // An id this list issued: never empty, never with a NUL (PostgreSQL text cannot hold one: the query would fail).
    typeof v.afterAccount === 'string' && v.afterAccount.length > 0 && !v.afterAccount.includes('\u0000') ? v.afterAccount : undefined,
  );

export const decodeEntriesCursor = (cursor: string): number =>
  decodeCursor(cursor, (v) => (typeof v.afterSeq === 'number' && Number.isInteger(v.afterSeq) && v.afterSeq >= 0 ? v.afterSeq : undefined));

/** simulateLedger against the implementation it replaced (the reference model), and its manners on the event loop. */
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { DomainError } from '../errors/index.js';
import { eventScripts, gate, program, type EventScript } from './ledger.test-support.js';
import { simulateLedgerReference } from './simulate-reference.test-support.js';
import { ledgerEventsSchema, simulateLedger, validateLedgerEvents, type LedgerEvent } from './simulate.js';

/** The answer as the endpoint serialises it, or the error it would map. */
async function answer(run: () => Promise<unknown>): Promise<string> {
  try {
    return JSON.stringify(await run());
  } catch (e) {
    return `threw ${e instanceof Error ? `${e.name} ${JSON.stringify(e)} ${e.message}` : String(e)}`;
  }
}

async function bothAnswer({ program: p, cycleAnchorDay, events }: EventScript): Promise<void> {
  const options = { account: { cycleAnchorDay } };
  const g = await gate();
  const expected = await answer(() => simulateLedgerReference(p, events, g, options));
  const actual = await answer(() => simulateLedger(p, events, g, options));
  expect(actual).toBe(expected);
}

describe('simulateLedger answers exactly what the quadratic implementation it replaced answered', () => {
  it('for any script (ids used again, refunds before and after rewards, closes in and out of order, huge amounts)', async () => {
    await fc.assert(fc.asyncProperty(eventScripts(60), bothAnswer), { numRuns: 300 });
  });

  it('for long scripts (the indexes of a statement close and the period lists grow large)', async () => {
    await fc.assert(fc.asyncProperty(eventScripts(600), bothAnswer), { numRuns: 12 });
  });

  it('when sums pass Number.MAX_SAFE_INTEGER (the figures are then summed in the old order)', async () => {
    const huge = Number.MAX_SAFE_INTEGER - 10;
    const events: LedgerEvent[] = [];
    for (let i = 0; i < 4; i++) {
      events.push({ op: 'purchase', transactionId: `t${i}`, amount: huge - i, category: 'GROCERY', occurredAt: `2024-05-1${i}T10:00:00Z` });
      events.push({ op: 'settle', transactionId: `t${i}`, settledAt: `2024-05-1${i}T11:00:00Z` });
    }
    events.push({ op: 'refund', transactionId: 't1', refundId: 'r1', amount: huge - 1, at: '2024-05-20T10:00:00Z' });
    events.push({ op: 'refund', transactionId: 't2', refundId: 'r2', amount: 7, at: '2024-05-20T10:00:00Z' });
    for (const name of ['cashback-default', 'issuer-d'] as const) await bothAnswer({ program: program(name), cycleAnchorDay: 1, events });
  });
});

describe('simulateLedger refusals', () => {
  it('records a close whose grace hold would end after year 9999 as refused on its step (HOLD_OUT_OF_RANGE), and the account keeps no hold', async () => {
    const run = await simulateLedger(program('issuer-d'), [{ op: 'close', periodEnd: '9999-12-28T00:00:00Z' }], await gate(), { account: { cycleAnchorDay: 28 } });
    expect(run.steps[0]).toMatchObject({ op: 'close', ok: false, error: { code: 'HOLD_OUT_OF_RANGE', errors: [{ path: '/events/0/periodEnd' }] }, after: { holdUntil: null } });
  });
});

describe('validateLedgerEvents', () => {
  const schema = new Ajv2020({ allErrors: true, strict: true, strictTypes: false }).compile(ledgerEventsSchema);
  /** Events, each perhaps spoilt: a field dropped, changed to any JSON value or added, another op, or no object at all. */
  const lists = eventScripts(8).chain(({ events }) =>
    fc.tuple(
      ...events.map((e) =>
        fc.oneof(
          { weight: 3, arbitrary: fc.constant<unknown>(e) },
          { weight: 1, arbitrary: fc.constantFrom(...Object.keys(e)).map((k) => Object.fromEntries(Object.entries(e).filter(([key]) => key !== k))) },
          { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...Object.keys(e), 'extra'), fc.jsonValue()).map(([k, v]) => ({ ...e, [k]: v })) },
          { weight: 1, arbitrary: fc.constantFrom('purchase', 'settle', 'refund', 'chargeback', 'redeem', 'close', 'teleport').map((op) => ({ ...e, op })) },
          { weight: 1, arbitrary: fc.jsonValue() },
        ),
      ),
    ),
  );

  it('accepts exactly the lists the schema accepts (the quick check agrees with the full one)', () => {
    fc.assert(
      fc.property(lists, (events) => {
        let accepted = true;
        try {
          validateLedgerEvents(events);
        } catch (e) {
          if (!(e instanceof DomainError) || e.code !== 'VALIDATION_FAILED') throw e;
          accepted = false;
        }
        expect(accepted).toBe(schema(events));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('simulateLedger on the event loop', () => {
  it('yields a macrotask between slices of a long script', async () => {
    const events: LedgerEvent[] = [];
    for (let i = 0; i < 300; i++) {
      events.push({ op: 'purchase', transactionId: `t${i}`, amount: 1000 + i, category: 'GROCERY', occurredAt: '2024-05-10T10:00:00Z' });
      events.push({ op: 'settle', transactionId: `t${i}`, settledAt: '2024-05-11T10:00:00Z' });
    }
    let macrotasks = 0;
    const tick = (): void => {
      macrotasks++;
      if (running) setImmediate(tick);
    };
    let running = true;
    setImmediate(tick);
    const r = await simulateLedger(program('cashback-default'), events, await gate(), { sliceMs: 0 });
    running = false;
    expect(r.steps).toHaveLength(600);
    expect(macrotasks).toBeGreaterThan(100); // a run that never yields leaves the queued macrotask waiting until it is done
  });
});

/**
 * Auditors in the browser: decision search by type and outcome, a decision explained and replayed (identical), the
 * audit log's chain verified then broken behind the service's back and named, and a reward account's timeline.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '../support/content-root.js';
import { newKey, TestService } from '../support/harness.js';
import { checkPage, launchBrowser, newPage, pageErrors, signIn, visit } from '../support/browser.js';

const onPostgres = !!process.env.TEST_DATABASE_URL;
let svc: TestService;
let browser: Browser;
let page: Page;
let service: string;
let auditor: string;

beforeAll(async () => {
  svc = await TestService.start('console_auditors');
  browser = await launchBrowser();
  service = await svc.issueKey('acme', ['service'], 'checkout');
  auditor = await svc.issueKey('acme', ['auditor'], 'Ann Auditor');
  const cases = JSON.parse(await readFile(`${repoRoot}/docs/examples/refund-cases.json`, 'utf8')) as Record<string, unknown>[];
  for (const c of cases.slice(0, 24)) {
    const r = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), body: { case: c } });
    if (r.status !== 201) throw new Error(r.text);
  }
  page = await newPage(browser);
  await signIn(page, svc.baseUrl, auditor);
});
afterAll(async () => {
  await browser?.close();
  await svc?.stop();
});
// Emptied as it is checked: one page error fails the test that caused it, not every later one.
afterEach(() => expect(pageErrors.splice(0)).toEqual([]));

describe('console: auditors', () => {
  it('searches decisions by type and outcome, with the filters in the address', async () => {
    const api = await svc.request('GET', '/v1/decisions?type=refund&outcome=DENY', { key: auditor });
    expect(api.body.items.length).toBeGreaterThan(0);
    await visit(page, svc.baseUrl, '/decisions');
    await page.getByLabel('Decision type').selectOption('refund');
    await page.getByLabel('Outcome').selectOption('DENY');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/outcome=DENY/);
    await page.locator('tbody tr').first().waitFor();
    const outcomes = await page.locator('tbody tr td:nth-child(3)').allTextContents();
    expect(outcomes).toEqual(api.body.items.map(() => 'DENY'));
    await checkPage(page, 'auditors-decisions');
  });

  it('a reason code filter finds the decisions that carry it', async () => {
    await visit(page, svc.baseUrl, '/decisions?reasonCode=AMOUNT_OVER_AUTO_APPROVE_LIMIT');
    // The table may still show the previous search's rows for a moment (CI, 2026-12-04): read until the filtered page is in.
    let reasons: string[] = [];
    for (const until = Date.now() + 10_000; Date.now() < until; await page.waitForTimeout(50)) {
      reasons = await page.locator('tbody tr td:nth-child(4)').allTextContents();
      if (reasons.length > 0 && reasons.every((r) => r.includes('AMOUNT_OVER_AUTO_APPROVE_LIMIT'))) break;
    }
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) expect(r).toContain('AMOUNT_OVER_AUTO_APPROVE_LIMIT');
  });

  it('opens a decision, explains it and replays it: identical', async () => {
    await visit(page, svc.baseUrl, '/decisions?outcome=REVIEW');
    await page.locator('tbody tr a').first().click();
    await page.getByRole('heading', { name: 'Why this decision' }).waitFor();
    await page.getByText(/fired: REVIEW/).first().waitFor();
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByText('Identical: the replay gives the same outcome, reasons, amounts and trace.').waitFor();
    await checkPage(page, 'auditors-decision');
  });

  it('verifies the audit chain, and names the first broken link after a row is edited behind the service', async () => {
    await visit(page, svc.baseUrl, '/audit');
    await page.getByText(/Not verified in this visit/).waitFor();
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText(/Verified: \d+ row\(s\), every link intact/).waitFor();
    expect(await page.locator('tbody tr').count()).toBeGreaterThan(0);
    await checkPage(page, 'auditors-audit');

    const [row] = await svc.sql<{ id: string; seq: number }>("select id, seq from audit_log where tenant = 'acme' order by seq limit 1");
    const edit = `update audit_log set details = jsonb_set(details, '{name}', '"someone else"') where id = $1`;
    if (onPostgres) {
      const c = new pg.Client({ connectionString: svc.databaseUrl });
      await c.connect();
      try {
        await c.query('alter table audit_log disable trigger audit_log_append_only');
        await c.query(edit, [row!.id]);
        await c.query('alter table audit_log enable trigger audit_log_append_only');
      } finally {
        await c.end();
      }
    } else {
      await svc.sql('alter table audit_log disable trigger audit_log_append_only');
      await svc.sql(edit.replace('$1', '?'), [row!.id]);
      await svc.sql('alter table audit_log enable trigger audit_log_append_only');
    }
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText(new RegExp(`Broken at row ${row!.seq} \\(${row!.id}\\)`)).waitFor();
  });

  it('shows a reward account: figures, the Reward Integrity verdict, the timeline and its entries', async () => {
    const acct = `acct-console-${Date.now().toString(36)}`;
    expect((await svc.request('PUT', `/v1/ledger/accounts/${acct}`, { key: service, body: { program: 'cashback-default', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBe(201);
    const post = (path: string, body: unknown) => svc.request('POST', path, { key: service, idempotencyKey: newKey(), body });
    for (const [i, at] of ['2026-03-02T10:00:00Z', '2026-03-09T10:00:00Z'].entries()) {
      const tx = `tx-console-${i}-${acct}`;
      expect((await post(`/v1/ledger/accounts/${acct}/transactions`, { transactionId: tx, amount: 10000, category: 'GROCERY', occurredAt: at })).status).toBe(201);
      expect((await post(`/v1/ledger/transactions/${tx}/settle`, { settledAt: at })).status).toBe(200);
      if (i === 1) expect((await post(`/v1/ledger/transactions/${tx}/refunds`, { refundId: `rf-${tx}`, amount: 5000, at: '2026-03-10T10:00:00Z' })).status).toBe(201);
    }
    await visit(page, svc.baseUrl, '/ledger');
    await page.getByText('No account violates Reward Integrity.').waitFor();
    await page.getByLabel('Account id').fill(acct);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByText('Holds: the net reward is within the bound.').waitFor();
    await page.locator('figure svg path').first().waitFor();
    expect(await page.locator('tbody tr').count()).toBeGreaterThanOrEqual(3);
    await checkPage(page, 'auditors-ledger-account');
  });

  it('lists an account that violates Reward Integrity and names its violating transaction (the double dip of issuer A)', async () => {
    const acct = `acct-dip-${Date.now().toString(36)}`;
    const tx = `tx-dip-${acct}`;
    const post = (path: string, body: unknown) => svc.request('POST', path, { key: service, idempotencyKey: newKey(), body });
    expect((await svc.request('PUT', `/v1/ledger/accounts/${acct}`, { key: service, body: { program: 'issuer-a', currency: 'EUR', cycleAnchorDay: 1 } })).status).toBe(201);
    expect((await post(`/v1/ledger/accounts/${acct}/transactions`, { transactionId: tx, amount: 100000, category: 'GROCERY', occurredAt: '2026-03-02T10:00:00Z' })).status).toBe(201);
    expect((await post(`/v1/ledger/transactions/${tx}/settle`, { settledAt: '2026-03-02T10:00:00Z' })).status).toBe(200);
    expect((await post(`/v1/ledger/accounts/${acct}/redemptions`, { redemptionId: `rd-${acct}`, amount: 3000, at: '2026-03-03T00:00:00Z' })).status).toBe(201);
    expect((await post(`/v1/ledger/transactions/${tx}/refunds`, { refundId: `rf-${acct}`, amount: 100000, at: '2026-04-02T10:00:00Z' })).status).toBe(201);

    await visit(page, svc.baseUrl, '/ledger');
    await page.getByRole('link', { name: acct }).waitFor();
    await checkPage(page, 'auditors-ledger');
    await page.getByRole('link', { name: acct }).click();
    await page.getByText(/VIOLATED: the net reward exceeds/).waitFor();
    const row = page.getByRole('row', { name: /REWARD_EXCEEDS_SHARE/ });
    await expect(row.textContent()).resolves.toContain(tx);
    await checkPage(page, 'auditors-ledger-violated');
  });
});

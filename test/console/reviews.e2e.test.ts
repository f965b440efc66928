/**
 * Reviewers in the browser: the queue by SLA with an overdue item marked, a case explained, four-eyes through two
 * keys (the same reviewer twice refused), and the keyboard path (j, Enter, c, d).
 */
import type { Browser, Page } from 'playwright-core';
import { newKey, TestService } from '../support/harness.js';
import { refundCase } from '../support/refund-cases.js';
import { checkPage, launchBrowser, newPage, pageErrors, signIn, visit } from '../support/browser.js';

let svc: TestService;
let browser: Browser;
let service: string;
let reviewerA: string;
let reviewerB: string;
const opened: Record<string, { reviewId: string; refundId: string }> = {};

/** A refund decision that goes to review (a dispute is open), and its review item. */
async function openReview(name: string, amount: number, deadline?: Date) {
  const refundId = `rf_console_${name}`;
  const body = {
    case: refundCase({ refundId, requestedAmount: amount, disputeOpen: true, order: { capturedAmount: Math.max(amount, 12999), items: [{ sku: 'SKU-1', amount: Math.max(amount, 12999), finalSale: false, category: 'apparel' }] } }),
  };
  const d = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), body });
  if (d.body.outcome !== 'REVIEW') throw new Error(`expected REVIEW: ${d.text}`);
  const [row] = await svc.sql<{ id: string }>('select id from reviews where decision_id = ?', [d.body.id]);
  // The SLA deadline comes from the release's reviewSlaHours; an overdue item is arranged in the database.
  if (deadline) await svc.sql('update reviews set deadline = ? where id = ?', [deadline.toISOString(), row!.id]);
  opened[name] = { reviewId: row!.id, refundId };
}

beforeAll(async () => {
  svc = await TestService.start('console_reviews');
  browser = await launchBrowser();
  service = await svc.issueKey('acme', ['service'], 'checkout');
  reviewerA = await svc.issueKey('acme', ['reviewer'], 'Rita');
  reviewerB = await svc.issueKey('acme', ['reviewer'], 'Ben');
  await openReview('late', 8000, new Date(Date.now() - 3_600_000));
  await openReview('big', 150_000);
  await openReview('later', 9000, new Date(Date.now() + 48 * 3_600_000));
});
afterAll(async () => {
  await browser?.close();
  await svc?.stop();
});
// Emptied as it is checked: one page error fails the test that caused it, not every later one.
afterEach(() => expect(pageErrors.splice(0)).toEqual([]));

const refundOf = async (refundId: string) => (await svc.request('GET', `/v1/refunds/${refundId}`, { key: service })).body;

describe('console: reviewers', () => {
  let a: Page;
  beforeAll(async () => {
    a = await newPage(browser);
    await signIn(a, svc.baseUrl, reviewerA);
  });
  afterAll(() => a.context().close());

  it('lists the queue by SLA deadline, the overdue item first and marked', async () => {
    await visit(a, svc.baseUrl, '/reviews');
    const rows = a.locator('tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(3);
    await expect(rows.nth(0).textContent()).resolves.toContain(opened.late!.refundId);
    await expect(rows.nth(0).textContent()).resolves.toContain('OVERDUE');
    await expect(rows.nth(1).textContent()).resolves.toContain(opened.big!.refundId);
    await expect(rows.nth(2).textContent()).resolves.not.toContain('OVERDUE');
    await checkPage(a, 'reviews-queue');
  });

  it('four-eyes through two keys: A approves, A again is refused, B completes; the refund is approved with the smaller amount', async () => {
    await visit(a, svc.baseUrl, `/reviews/${opened.big!.reviewId}`);
    // The explanation: the rule that sent it to review, with the fact's value against what the rule checks.
    await a.getByText('chargeback-in-progress fired').waitFor();
    await expect(a.getByText(/disputeOpen was true; the rule checks equal to true/).count()).resolves.toBeGreaterThan(0);
    await a.getByText('This item needs 2 approvals from different reviewers.').waitFor();
    await checkPage(a, 'reviews-case');

    await a.getByRole('button', { name: 'Claim' }).click();
    await a.getByText(/You hold this item/).waitFor();
    await a.getByRole('button', { name: 'Approve', exact: true }).click();
    await a.getByLabel(/Amount to refund/).fill('1200.00');
    await a.getByLabel('Reason code').fill('GOODWILL');
    await a.getByRole('button', { name: 'Approve refund' }).click();
    await a.getByText('Your approval is recorded; the item waits for another reviewer.').waitFor();
    await a.getByText(/Approved by you/).waitFor();
    await a.getByText(/You approved already/).waitFor();

    // The same reviewer approving again: the API refuses the claim (403 FOUR_EYES_SAME_REVIEWER), shown as it says.
    await a.getByRole('button', { name: 'Approve', exact: true }).click();
    await a.getByLabel('Reason code').fill('GOODWILL');
    await a.getByRole('button', { name: 'Approve refund' }).click();
    await expect(a.getByRole('alert').first().textContent()).resolves.toMatch(/same reviewer|already approved|four-eyes/i);
    expect((await refundOf(opened.big!.refundId)).state).toBe('IN_REVIEW');

    const b = await newPage(browser);
    await signIn(b, svc.baseUrl, reviewerB, `/reviews/${opened.big!.reviewId}`);
    await b.locator('#page-title').waitFor();
    await b.getByRole('button', { name: 'Claim' }).click();
    await b.getByText(/You hold this item/).waitFor();
    await b.getByRole('button', { name: 'Approve', exact: true }).click();
    await b.getByLabel(/Amount to refund/).fill('1300');
    await b.getByLabel('Reason code').fill('GOODWILL');
    await b.getByRole('button', { name: 'Approve refund' }).click();
    await b.getByText(/Resolved: APPROVE/).waitFor();
    await b.context().close();

    const refund = await refundOf(opened.big!.refundId);
    expect([refund.state, refund.approvedAmount]).toEqual(['APPROVED', 120_000]);
  });

  it('Enter on a focused link follows that link; another case in the same tab is a fresh page (no form of the previous one)', async () => {
    await visit(a, svc.baseUrl, '/reviews');
    const rows = a.locator('tbody tr');
    await rows.first().waitFor();
    // The highlighted row is the first ('late'); the focused link is the second row's ('later').
    await rows.nth(1).getByRole('link').first().focus();
    await a.keyboard.press('Enter');
    await a.waitForURL(new RegExp(`#/reviews/${opened.later!.reviewId}$`));
    await a.getByRole('button', { name: 'Claim' }).click();
    await a.getByText(/You hold this item/).waitFor();
    await a.getByRole('button', { name: 'Approve', exact: true }).click();
    // 90.00 EUR, prefilled from the item's minor units.
    await expect(a.getByLabel(/Amount to refund/).inputValue()).resolves.toBe('90.00');
    // Escape in a field leaves the field, not the form: a half-written reason stays.
    await a.getByLabel('Reason code').fill('GOODWILL');
    await a.keyboard.press('Escape');
    await expect(a.getByLabel('Reason code').inputValue()).resolves.toBe('GOODWILL');
    await a.evaluate(`location.hash = '#/reviews/${opened.late!.reviewId}'`);
    await a.getByText(/Nobody holds this item/).waitFor();
    expect(await a.getByLabel(/Amount to refund/).count()).toBe(0);
  });

  it('works the queue from the keyboard: j, Enter, c, d, a reason, Enter', async () => {
    await visit(a, svc.baseUrl, '/reviews');
    await a.locator('tbody tr').first().waitFor();
    await a.keyboard.press('j'); // the second open item ('later'; 'big' is closed now)
    await a.keyboard.press('k'); // back to the first ('late')
    await a.keyboard.press('Enter');
    await a.waitForURL(new RegExp(`#/reviews/${opened.late!.reviewId}$`));
    await a.getByText(/Nobody holds this item/).waitFor();
    await a.keyboard.press('c');
    await a.getByText(/You hold this item/).waitFor();
    await a.keyboard.press('d');
    await a.waitForFunction('document.activeElement && document.activeElement.id === "resolve-reason"');
    await a.keyboard.type('NOT_ELIGIBLE');
    await a.keyboard.press('Enter');
    await a.getByText(/Resolved: DENY/).waitFor();
    expect((await refundOf(opened.late!.refundId)).state).toBe('DENIED');
  });
});

/**
 * Policy authors in the browser: a what-if on a changed parameter (the candidate pack stored, its pinned tests shown
 * and set aside), the transition matrix read against the API's summary, a changed case side by side, the diff of two
 * releases, activation and rollback behind confirmations, and the shadow report.
 */
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '../support/content-root.js';
import { newKey, TestService } from '../support/harness.js';
import { checkPage, launchBrowser, newPage, pageErrors, signIn, visit } from '../support/browser.js';

let svc: TestService;
let browser: Browser;
let page: Page;
let service: string;
let author: string;
let whatIfPack: string;

beforeAll(async () => {
  svc = await TestService.start('console_authors');
  browser = await launchBrowser();
  service = await svc.issueKey('acme', ['service'], 'checkout');
  author = await svc.issueKey('acme', ['author', 'publisher', 'auditor'], 'Paula Publisher');
  const cases = JSON.parse(await readFile(`${repoRoot}/docs/examples/refund-cases.json`, 'utf8')) as Record<string, unknown>[];
  for (const c of cases.slice(0, 30)) {
    const r = await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), body: { case: c } });
    if (r.status !== 201) throw new Error(r.text);
  }
  page = await newPage(browser);
  await signIn(page, svc.baseUrl, author);
});
afterAll(async () => {
  await browser?.close();
  await svc?.stop();
});
// Emptied as it is checked: one page error fails the test that caused it, not every later one.
afterEach(() => expect(pageErrors.splice(0)).toEqual([]));

/** Asks until the answer satisfies `ok` (at most 20 s), and returns the last answer. */
async function until<T>(ask: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const end = Date.now() + 20_000;
  let v = await ask();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    v = await ask();
  }
  return v;
}

describe('console: policy authors', () => {
  it('lists the releases with the active one', async () => {
    await visit(page, svc.baseUrl, '/releases');
    await page.getByRole('link', { name: 'default@1.8.0' }).first().waitFor();
    await page.getByText('The built-in release decides').waitFor();
    await checkPage(page, 'authors-releases');
  });

  it('simulates a changed parameter and reads the transition matrix; a changed case opens side by side', async () => {
    await visit(page, svc.baseUrl, '/simulations');
    // A parameter table is edited beside the parameters, as its JSON.
    await page.getByLabel('Rule pack of the active release').selectOption('giftcard-redemption-policy');
    await expect(page.getByLabel('newDeviceAmount').inputValue()).resolves.toMatch(/^\{"description":.*"key":\{"fact":"currency"\},"values":\{.*"JPY":16000.*\},"default":10000\}$/);
    await page.getByLabel('Rule pack of the active release').selectOption('refund-policy');
    await page.getByLabel('autoApproveLimit').fill('10000');
    await checkPage(page, 'authors-simulations');
    await page.getByRole('button', { name: 'Run the simulation' }).click();
    // The pack's own tests pin the old limit: shown, then set aside for the what-if.
    await page.getByText(/The pack’s own tests fail with these parameters/).waitFor();
    await page.getByLabel(/Simulate anyway without these test cases/).check();
    await page.getByRole('button', { name: 'Run the simulation' }).click();
    await page.waitForURL(/#\/simulations\/[0-9a-f-]{36}$/);
    await page.getByText(/COMPLETED|FINISHED/).first().waitFor();

    const id = /#\/simulations\/([0-9a-f-]{36})/.exec(page.url())![1]!;
    const job = (await svc.request('GET', `/v1/simulations/${id}`, { key: author })).body;
    whatIfPack = job.release.components['refund-policy'];
    expect(whatIfPack).toMatch(/^1\.2\.0-whatif\.\d+$/);
    const approveToReview = job.summary.transitions['APPROVE->REVIEW'];
    expect(approveToReview).toBeGreaterThan(0);
    const cell = page.getByRole('button', { name: `${approveToReview} case(s) from APPROVE to REVIEW` });
    await expect(cell.textContent()).resolves.toBe(String(approveToReview));
    await checkPage(page, 'authors-simulation');

    await cell.click();
    await page.waitForURL(/from=APPROVE&to=REVIEW/);
    const rows = page.getByRole('table', { name: 'Changed from APPROVE to REVIEW' }).locator('tbody tr');
    await rows.first().waitFor();
    await expect(rows.count()).resolves.toBe(approveToReview);
    await rows.first().getByRole('link').click();
    await page.getByRole('heading', { name: 'Stored decision' }).waitFor();
    await page.getByRole('heading', { name: 'Candidate', exact: true }).waitFor();
    await page.getByText('AMOUNT_OVER_AUTO_APPROVE_LIMIT').first().waitFor();
    await checkPage(page, 'authors-case-compare');
  });

  it('shows the diff of two releases with the changed parameter, activates behind a confirmation, and rolls back', async () => {
    const active = (await svc.request('GET', '/v1/releases/active', { key: author })).body;
    const created = await svc.request('POST', '/v1/releases', {
      key: author,
      idempotencyKey: newKey(),
      body: { name: 'acme', version: '1.0.0', components: { ...active.components, 'refund-policy': whatIfPack } },
    });
    expect(created.status).toBe(201);

    await visit(page, svc.baseUrl, '/releases/diff?a=default@1.8.0&b=acme@1.0.0');
    const row = page.getByRole('row', { name: /autoApproveLimit/ });
    await expect(row.textContent()).resolves.toMatch(/50000.*10000.*changed/);
    await checkPage(page, 'authors-diff');

    await visit(page, svc.baseUrl, '/releases/acme/1.0.0');
    await page.getByRole('button', { name: 'Activate' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(`+ ${whatIfPack}`).waitFor();
    await dialog.getByRole('button', { name: 'Activate' }).click();
    await page.getByText('acme@1.0.0 is active.').waitFor();
    expect((await svc.request('GET', '/v1/releases/active', { key: author })).body).toMatchObject({ name: 'acme', version: '1.0.0' });
    await checkPage(page, 'authors-release');

    await visit(page, svc.baseUrl, '/releases');
    await page.getByRole('button', { name: 'Roll back' }).click();
    await page.getByRole('dialog').getByText('Roll back to default@1.8.0?').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
    // The active-release card itself must name the built-in release again (a link to it exists in the table anyway).
    await page.getByRole('region', { name: 'Active release' }).getByText(/default@1\.8\.0|built-in release decides/).first().waitFor();
    expect(await until(async () => (await svc.request('GET', '/v1/releases/active', { key: author })).body.name, (n) => n === 'default')).toBe('default');
    await page.getByRole('cell', { name: 'rollback' }).waitFor();
  });

  it('runs a release in shadow and reads its report', async () => {
    await visit(page, svc.baseUrl, '/releases/acme/1.0.0');
    await page.getByRole('button', { name: 'Run in shadow' }).click();
    await page.getByText(/now runs in shadow/).waitFor();
    const cases = JSON.parse(await readFile(`${repoRoot}/docs/examples/refund-cases.json`, 'utf8')) as Record<string, unknown>[];
    for (const c of cases.slice(30, 60)) await svc.request('POST', '/v1/decisions/refund', { key: service, idempotencyKey: newKey(), body: { case: c } });
    // Shadow evaluations are written behind the live answers: wait until the report counts some.
    expect(await until(async () => (await svc.request('GET', '/v1/releases/shadow/report', { key: author })).body.total as number, (n) => n > 0)).toBeGreaterThan(0);
    await visit(page, svc.baseUrl, '/shadow');
    await page.getByText(/live decisions evaluated/).waitFor();
    await checkPage(page, 'authors-shadow');
  });
});

/** The console's door: sign-in with a key, a wrong key, a key revoked while the tab is open, and where the key is kept. */
import type { Browser, Page } from 'playwright-core';
import { TestService } from '../support/harness.js';
import { checkPage, consoleUrl, launchBrowser, newPage, pageErrors, signIn } from '../support/browser.js';

let svc: TestService;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  svc = await TestService.start('console_sign_in');
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await svc?.stop();
});
beforeEach(async () => {
  page = await newPage(browser);
});
afterEach(async () => {
  await page.context().close();
  expect(pageErrors.splice(0)).toEqual([]);
});

describe('console sign-in', () => {
  it('serves the console at /console with a strict content security policy', async () => {
    const res = await fetch(`${svc.baseUrl}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<div id="root">');
    const bare = await fetch(`${svc.baseUrl}/console`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([301, '/console/']);
  });

  it('refuses a wrong key with a clear message and keeps nothing', async () => {
    await page.goto(consoleUrl(svc.baseUrl));
    await checkPage(page, 'sign-in');
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('not valid');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('signs in, shows who the key is and what its roles open, and keeps the key in this tab only', async () => {
    const key = await svc.issueKey('acme', ['reviewer', 'auditor'], 'Rita Reviewer');
    await signIn(page, svc.baseUrl, key);
    await expect(page.locator('#page-title').textContent()).resolves.toContain('Rita Reviewer');
    await expect(page.getByText('Signed in as Rita Reviewer (acme)').count()).resolves.toBe(1);
    await checkPage(page, 'home');
    const stored = await page.evaluate<{ session: string; local: number; cookie: string }>('({ session: JSON.stringify(sessionStorage), local: localStorage.length, cookie: document.cookie })');
    expect(stored.session).toContain(key);
    expect([stored.local, stored.cookie]).toEqual([0, '']);
    // Another tab of the same browser does not inherit it: session storage is per tab.
    const other = await page.context().newPage();
    await other.goto(consoleUrl(svc.baseUrl));
    await other.getByLabel('API key').waitFor();
    await other.close();
  });

  it('a key revoked while the tab is open sends it back to sign-in, saying why', async () => {
    const admin = await svc.issueKey('acme', ['admin'], 'admin');
    const key = await svc.issueKey('acme', ['auditor'], 'Ann Auditor');
    await signIn(page, svc.baseUrl, key);
    const who = await svc.request('GET', '/v1/session', { key });
    expect((await svc.request('POST', `/v1/api-keys/${who.body.keyId}/revoke`, { key: admin, idempotencyKey: `revoke-${who.body.keyId}` })).status).toBe(200);
    await page.reload();
    await page.getByText('Your key stopped working').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('signing out forgets the key', async () => {
    const key = await svc.issueKey('acme', ['auditor'], 'Out');
    await signIn(page, svc.baseUrl, key);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });
});


/**
 * The console in a real browser: Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it) driven by
 * playwright-core. Browser downloads are impossible here, so nothing is fetched: CHROMIUM_PATH names another binary.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from './content-root.js';

/** Without the background-networking flags Chromium keeps calling Google's hosts, which this machine's network refuses. */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

/** A fresh context (own session storage) and page at the given width. */
export async function newPage(browser: Browser, viewport = DESKTOP): Promise<Page> {
  const context = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  // A page error is a bug in the console: fail the test that caused it rather than let it pass unnoticed.
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  return page;
}

/** Uncaught errors seen on any page; suites assert it stays empty (afterEach/afterAll). */
export const pageErrors: string[] = [];

export const consoleUrl = (baseUrl: string, route = '/'): string => `${baseUrl}/console/#${route}`;

/** Signs in through the form as a person would, and waits for the signed-in frame. */
export async function signIn(page: Page, baseUrl: string, key: string, route = '/'): Promise<void> {
  await page.goto(consoleUrl(baseUrl, route));
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Goes to a console route in the signed-in tab and waits for its heading. */
export async function visit(page: Page, baseUrl: string, route: string): Promise<void> {
  await page.goto(consoleUrl(baseUrl, route));
  await page.locator('#page-title').waitFor();
}

let axeSource: string | undefined;

/** axe-core on the page as it is now: serious or critical violations fail with their rule, target and help. */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  // Injected through evaluate (not a <script> tag): the console's CSP allows scripts from its own origin only.
  await page.evaluate(axeSource);
  // Browser-side code as a string: the test program has no DOM types (they would clash with Node's fetch types).
  const violations = await page.evaluate<{ id: string; impact: string; help: string; targets: string[] }[]>(`
    axe.run(document, { resultTypes: ['violations'] }).then((r) =>
      r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })))`);
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) throw new Error(`${label}: axe found ${bad.length} serious/critical violation(s):\n${JSON.stringify(bad, null, 2)}`);
}

/** The page fits its width: nothing makes the document scroll sideways (wide tables scroll in their own box). */
export async function expectNoHorizontalScroll(page: Page, label: string): Promise<void> {
  const { scroll, width } = await page.evaluate<{ scroll: number; width: number }>('({ scroll: document.documentElement.scrollWidth, width: window.innerWidth })');
  if (scroll > width + 1) {
    // Name the culprits: the outermost elements that reach past the window's right edge.
    const wide = await page.evaluate<string[]>(`[...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > window.innerWidth + 1))
      .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')`);
    throw new Error(`${label}: the page is ${scroll} px wide in a ${width} px window; widest: ${wide.join(', ')}`);
  }
}

/**
 * Screenshots of every page for the README: written to SCREENSHOT_DIR when set (UPDATE_SCREENSHOTS=1 writes the
 * committed docs/console/screenshots), else to .tmp/console-screenshots, so a test run leaves the checkout clean.
 */
export const SCREENSHOT_DIR =
  process.env.SCREENSHOT_DIR ?? (process.env.UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'docs/console/screenshots') : join(repoRoot, '.tmp/console-screenshots'));

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

/** A page at both widths the console supports, checked for accessibility and fit, and photographed (name-desktop/-phone). */
export async function checkPage(page: Page, name: string): Promise<void> {
  for (const [suffix, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(viewport);
    await expectAccessible(page, `${name} at ${viewport.width} px`);
    await expectNoHorizontalScroll(page, `${name} at ${viewport.width} px`);
    await screenshot(page, `${name}-${suffix}`);
  }
  await page.setViewportSize(DESKTOP);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, expect } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BIN, ROOT, TEST_ENV } from './helpers.js';
import { ADMIN_TOKEN, eventually } from './resolver-helpers.js';

// What the console's browser tests run: the built CLI's `botver serve` as a child process (the
// console files found from dist/bin as an installed package finds them), and Debian's Chromium
// driven by playwright-core, which downloads no browser. Screenshots go to test-results/console/
// (not committed), for a person to look at.

export const SCREENSHOTS = join(ROOT, 'test-results', 'console');
export const CHROMIUM = process.env.BOTVER_CHROMIUM ?? '/usr/bin/chromium';
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 375, height: 812 };

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children.splice(0)) child.kill('SIGTERM');
});

/** `botver serve --repo DIR --port 0` with the test admin token; resolves once it is ready (models trained). */
export async function botverServe(
  dir: string,
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--repo', dir, '--port', '0'], {
    env: { ...process.env, ...TEST_ENV, BOTVER_ADMIN_TOKEN: ADMIN_TOKEN, BOTVER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let url: string | undefined;
  let partial = '';
  child.stdout!.on('data', (c: Buffer) => {
    partial += c;
    const complete = partial.split('\n');
    partial = complete.pop()!;
    for (const line of complete) {
      const entry = line.trim() ? (JSON.parse(line) as { msg?: string; url?: string }) : {};
      if (entry.msg === 'resolver listening') url = entry.url;
    }
  });
  const { value } = await eventually('botver serve listening', async () => url, 30_000);
  await eventually('ready', async () => ((await fetch(`${value}/readyz`)).status === 200 ? true : undefined), 60_000);
  return { url: value, child };
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}

/**
 * A page that fails the test on any script error or Content-Security-Policy violation, and
 * collects the console's messages (CSP violations are reported there).
 */
export async function newPage(browser: Browser, viewport = DESKTOP): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  // Under the test's own timeout: a missing element fails naming itself, not the test's clock.
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
  });
  return { page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const width = page.viewportSize()?.width ?? 0;
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
}

const axeSource: string = createRequire(import.meta.url)('axe-core').source;

/** axe-core's serious and critical violations on the page as it is now (rule, and the first offending element). */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (o: unknown) => Promise<{ violations: any[] }> } }).axe;
    const result = await axe.run({ resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, target: String(v.nodes[0]?.target ?? '') }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} at ${v.target}`);
}

/** The page scrolls sideways (content wider than the viewport): a phone layout that does not fit. */
export async function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1);
}

export async function signIn(page: Page, url: string, token = ADMIN_TOKEN): Promise<void> {
  await page.goto(`${url}/console/`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByLabel('Your name').fill('Ada Lovelace');
  await page.getByLabel('Your e-mail').fill('ada@example.com');
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export const OPERATOR = 'Ada Lovelace <ada@example.com>';

/** Fails with what the page said when `problems` collected anything. */
export function expectNoProblems(problems: string[]): void {
  expect(problems).toEqual([]);
}

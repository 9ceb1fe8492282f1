import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { git, tempDir } from './helpers.js';
import {
  ADMIN_TOKEN,
  auth,
  commitTo,
  eventually,
  getJson,
  sharedExampleWithTokens,
  waitForCommit,
} from './resolver-helpers.js';
import {
  DESKTOP,
  OPERATOR,
  PHONE,
  accessibilityViolations,
  botverServe,
  expectNoProblems,
  launchChromium,
  newPage,
  screenshot,
  scrollsSideways,
  signIn,
} from './console-browser.js';

// Issue #12: the console in a real browser (Debian's Chromium, playwright-core) against a real
// `botver serve` on 127.0.0.1 and a real repository: sign-in, the pages, a promotion and a
// roll back checked with native git and /v1/resolve, the live feed with a request sent by curl,
// the filters, accessibility (axe-core) and the phone layout. Screenshots: test-results/console/.

const example = sharedExampleWithTokens({ trained: true });
const curl = promisify(execFile);

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/** One server for the tests that change nothing (sign-in, accessibility): a start saved. */
let readOnly: Promise<{ url: string; tokens: ReturnType<typeof example>['tokens'] }> | undefined;
const readOnlyServer = () =>
  (readOnly ??= (async () => {
    const { dir, tokens } = example();
    return { url: (await botverServe(dir)).url, tokens };
  })());

/** Navigates inside the console (hash routes) and waits for the page's heading. */
async function open(page: Page, hash: string, heading: string | RegExp) {
  await page.evaluate((h) => void (location.hash = h), hash);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

describe('the console in a browser', () => {
  it('refuses a wrong admin token, then signs in; the token lives in session storage only and is never shown', async () => {
    const { url, tokens } = await readOnlyServer();
    const { page, problems } = await newPage(browser);
    await page.goto(`${url}/`); // redirected to /console/
    expect(new URL(page.url()).pathname).toBe('/console/');

    await signIn(page, url, 'not-the-admin-token');
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/^The admin token was refused/);
    await screenshot(page, 'sign-in-refused');
    await signIn(page, url);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const production = page.getByRole('article', { name: 'production' });
    await production.getByText('follows branch').waitFor();
    await expect(production.getByText('v1', { exact: true }).count()).resolves.toBeGreaterThan(0);
    await expect(page.getByRole('article', { name: 'staging' }).getByText('v2', { exact: true }).count()).resolves.toBe(
      1,
    );

    const stored = await page.evaluate(() => ({
      token: sessionStorage.getItem('botver.adminToken'),
      local: localStorage.length,
      cookies: document.cookie,
    }));
    expect(stored).toEqual({ token: ADMIN_TOKEN, local: 0, cookies: '' });
    const html = await page.content();
    for (const secret of [ADMIN_TOKEN, tokens.production, tokens.staging]) {
      expect(html).not.toContain(secret);
      expect(page.url()).not.toContain(secret);
    }
    expectNoProblems(problems);
  });

  it('promotes staging to production and rolls it back: the commits of the CLI, by the operator, served at once', async () => {
    const { dir, tokens } = example();
    // v2 moves on: a new expression, so that staging serves something production does not.
    const v2 = await commitTo(dir, 'v2', {
      'training/intents/greetings.yaml': `${git(dir, 'show', 'v1:training/intents/greetings.yaml').trimEnd()}\n  - hiya botty\n`,
    });
    const v1 = git(dir, 'rev-parse', 'v1');
    const { url } = await botverServe(dir);
    const { page, problems } = await newPage(browser);
    await signIn(page, url);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();

    // The diff of production and staging shows the new expression on staging's side.
    await open(page, '#/diff?from=production&to=staging', /^Diff of production and staging/);
    const intents = page.getByRole('region', { name: 'Intents differences' });
    const greetings = intents.getByRole('row').filter({ hasText: 'greetings' });
    await greetings.getByText('hiya botty').waitFor();
    // Only added: nothing on the removed side.
    expect(await greetings.getByRole('cell').allInnerTexts()).toEqual(['', expect.stringContaining('hiya botty')]);
    await screenshot(page, 'diff');

    await open(page, '#/environments/production', 'Environments');
    const env = page.getByRole('region', { name: 'Environment production' });
    await env.getByLabel('Promote from').selectOption('staging');
    await env.getByRole('button', { name: 'Promote' }).click();
    const committed = page.getByRole('status').filter({ hasText: /^Committed [0-9a-f]{7}: promote production/ });
    await committed.waitFor({ timeout: 30_000 });
    // The report of staging's tests is shown with the commit.
    await page
      .getByRole('region', { name: 'Test report of staging' })
      .getByText(/checks passed/)
      .waitFor();
    await screenshot(page, 'promoted');

    // Native git: the commit exists, with the operator as author and the CLI's message.
    const [author, subject] = git(dir, 'log', '-1', '--format=%an <%ae>%n%s', 'main').trim().split('\n');
    expect(author).toBe(OPERATOR);
    expect(subject).toBe(`promote production to v2@${v2.slice(0, 7)} (was v1), from staging`);
    expect(await committed.textContent()).toBe(`Committed ${git(dir, 'rev-parse', '--short=7', 'main')}: ${subject}`);
    // The production token now serves the new version, and the history shows who did it.
    await waitForCommit(url, tokens.production, v2);
    const history = page.getByRole('region', { name: 'History table' });
    await history.getByRole('row').filter({ hasText: 'Ada Lovelace' }).first().waitFor();

    await env.getByRole('button', { name: 'Roll back' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^Committed [0-9a-f]{7}: roll back production to v1/ })
      .waitFor();
    expect(git(dir, 'log', '-1', '--format=%an <%ae>|%s', 'main').trim()).toMatch(
      /^Ada Lovelace <ada@example.com>\|roll back production to v1 \(was v2@[0-9a-f]{7}\), undoing [0-9a-f]{7}$/,
    );
    await waitForCommit(url, tokens.production, v1);
    await expect(history.getByRole('row').filter({ hasText: 'Ada Lovelace' }).count()).resolves.toBe(2);
    expectNoProblems(problems);
  });

  it('creates an environment, rotates its token, adds and removes a channel, deletes it: each secret shown once and working, gone after Dismiss; each a commit by the operator', async () => {
    const { dir, tokens } = example();
    const { url } = await botverServe(dir);
    const { page, problems } = await newPage(browser);
    await signIn(page, url);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await open(page, '#/environments', 'Environments');

    const statusOf = async (token: string) => (await fetch(`${url}/v1/resolve`, { headers: auth(token) })).status;
    const webhook = async (channel: string, secret: string) =>
      (
        await fetch(`${url}/v1/channels/${channel}/webhook`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...auth(secret) },
          body: JSON.stringify({ message: { type: 'text', content: 'hello there' }, conversation_id: 'c1' }),
        })
      ).status;
    const answers = (what: string, code: number, status: () => Promise<number>) =>
      eventually(`${what} answered ${code}`, async () => ((await status()) === code ? true : undefined));

    // Every secret the page has shown so far; none may be in its HTML except the one whose box is up.
    const shown: string[] = [];
    const neverShown = [ADMIN_TOKEN, ...Object.values(tokens)];
    const expectSecretsInHtml = async (allowed: string | null) => {
      const html = await page.content();
      for (const secret of [...shown, ...neverShown]) {
        if (secret === allowed) expect(html).toContain(secret);
        else expect(html, 'a token or secret whose box is not shown is in the page').not.toContain(secret);
      }
      // Nothing else that looks like a token (bvt_) or a channel secret (bvs_).
      expect(html.match(/bv[ts]_[\w-]{20,}/g) ?? []).toEqual(allowed ? [allowed] : []);
    };
    /** The box "<title> (shown once)": its value, once, then Dismiss drops it from the page. */
    const secretBox = async (title: string) => {
      const box = page.getByRole('region', { name: `${title} (shown once)` });
      await box.getByText(/^This is shown once/).waitFor();
      const value = (await box.locator('code.secret-value').textContent())?.trim() ?? '';
      expect(value).toMatch(/^bv[ts]_[\w-]{43}$/);
      shown.push(value);
      await expectSecretsInHtml(value);
      return {
        value,
        dismiss: async () => {
          await box.getByRole('button', { name: 'Dismiss' }).click();
          await box.waitFor({ state: 'detached' });
          await expectSecretsInHtml(null);
        },
      };
    };
    /** The page says "Committed abc1234: SUBJECT", and native git has that commit on main, by the operator. */
    const commits: string[] = [];
    const expectCommitted = async (subject: string) => {
      const said = page.getByRole('status').filter({ hasText: `: ${subject}` });
      await said.waitFor();
      const [hash, author, message] = git(dir, 'log', '-1', '--format=%H%n%an <%ae>%n%s', 'main').split('\n');
      expect({ author, message }).toEqual({ author: OPERATOR, message: subject });
      expect(await said.textContent()).toBe(`Committed ${hash!.slice(0, 7)}: ${subject}`);
      commits.push(hash!);
    };
    const manifest = () => git(dir, 'show', 'main:environments.yaml');
    const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

    // Create: the token box, a token that works at once; the repository stores only its SHA-256.
    const create = page.getByRole('form', { name: 'Create an environment' });
    await create.getByLabel('New environment name').fill('qa');
    await create.getByLabel('Version of the new environment').selectOption('v2');
    await create.getByRole('button', { name: 'Create environment' }).click();
    await expectCommitted('create environment qa linked to v2');
    expect(new URL(page.url()).hash).toBe('#/environments/qa');
    const created = await secretBox('Token of environment qa');
    await answers('the new token', 200, () => statusOf(created.value));
    expect(manifest()).toContain(`tokenSha256: ${sha256(created.value)}`);
    expect(manifest()).not.toContain(created.value);
    await created.dismiss();

    // Rotate: asked first (Cancel changes nothing), then a new token once; the old one is refused.
    const env = page.getByRole('region', { name: 'Environment qa' });
    const head = git(dir, 'rev-parse', 'main');
    await env.getByRole('button', { name: 'Rotate token' }).click();
    await env.getByText(/^Rotate the token of qa\?/).waitFor();
    await env.getByRole('button', { name: 'Cancel' }).click();
    expect(git(dir, 'rev-parse', 'main')).toBe(head);
    expect(await statusOf(created.value)).toBe(200);
    await env.getByRole('button', { name: 'Rotate token' }).click();
    await env.getByRole('button', { name: 'Yes, rotate the token' }).click();
    await expectCommitted('rotate the token of environment qa');
    const rotated = await secretBox('New token of environment qa');
    expect(rotated.value).not.toBe(created.value);
    await answers('the old token', 401, () => statusOf(created.value));
    await answers('the rotated token', 200, () => statusOf(rotated.value));
    expect(manifest()).toContain(`tokenSha256: ${sha256(rotated.value)}`);
    expect(manifest()).not.toContain(sha256(created.value));
    await screenshot(page, 'token-rotated');
    await rotated.dismiss();

    // A channel: its secret once, which the channel's webhook accepts.
    await env.getByLabel('Channel name').fill('qa-chat');
    await env.getByRole('button', { name: 'Add channel' }).click();
    await expectCommitted('connect channel qa-chat (webhook) to environment qa');
    const channel = await secretBox('Secret of channel qa-chat');
    expect(channel.value).toMatch(/^bvs_/);
    await answers('the channel secret', 200, () => webhook('qa-chat', channel.value));
    expect(manifest()).toContain(`secretSha256: ${sha256(channel.value)}`);
    expect(manifest()).not.toContain(channel.value);
    await channel.dismiss();
    await env.getByRole('list', { name: 'Channels of qa' }).getByText('qa-chat (webhook)').waitFor();

    // Remove it: asked first; then the secret is refused.
    await env.getByRole('button', { name: 'Remove channel qa-chat' }).click();
    const removeIt = env.getByRole('button', { name: 'Yes, remove qa-chat' });
    await removeIt.waitFor();
    expect(git(dir, 'rev-parse', 'main')).toBe(commits.at(-1));
    await removeIt.click();
    await expectCommitted('disconnect channel qa-chat from environment qa');
    await env.getByText('No channels.').waitFor();
    await answers('the removed channel secret', 401, () => webhook('qa-chat', channel.value));
    expect(manifest()).not.toContain(sha256(channel.value));

    // Delete: asked first; then back to the list, and the token is refused.
    await env.getByRole('button', { name: 'Delete environment' }).click();
    const deleteIt = env.getByRole('button', { name: 'Yes, delete qa' });
    await deleteIt.waitFor();
    expect(git(dir, 'rev-parse', 'main')).toBe(commits.at(-1));
    await deleteIt.click();
    await expectCommitted('delete environment qa (was linked to v2)');
    expect(new URL(page.url()).hash).toBe('#/environments');
    await expect(page.getByRole('link', { name: 'qa', exact: true }).count()).resolves.toBe(0);
    await answers('the deleted environment token', 401, () => statusOf(rotated.value));
    await expectSecretsInHtml(null);

    // Native git: the five commits, in order, each by the operator, one after another on main.
    expect(git(dir, 'log', '-5', '--reverse', '--format=%H', 'main').split('\n')).toEqual(commits);
    expect(git(dir, 'log', '-5', '--format=%an <%ae>', 'main').split('\n')).toEqual(Array(5).fill(OPERATOR));
    expect(manifest()).not.toMatch(/^ {2}qa:/m);
    expect(manifest()).not.toContain(sha256(rotated.value));
    expectNoProblems(problems);
  });

  it('shows a request sent with curl in the live feed, and filters the feed and the charts', async () => {
    const { dir, tokens } = example();
    const { url } = await botverServe(dir);
    const { page, problems } = await newPage(browser);
    await signIn(page, url);
    await open(page, '#/monitor', 'Monitor');
    const feed = page.getByRole('region', { name: 'Request feed' });
    await page.getByText('No requests yet.').first().waitFor();

    const ask = (token: string, text: string) =>
      curl('curl', [
        '-sS',
        '-X',
        'POST',
        `${url}/v2/request`,
        '-H',
        `Authorization: Token ${token}`,
        '-H',
        'Content-Type: application/json',
        '-d',
        JSON.stringify({ text, language: 'en' }),
      ]);
    await ask(tokens.production, 'hello there');
    const row = feed.getByRole('row').filter({ hasText: 'production' });
    await row.waitFor();
    const production = git(dir, 'rev-parse', '--short=7', 'v1');
    await expect(row.textContent()).resolves.toMatch(new RegExp(`v1.*${production}.*POST /v2/request.*200.*greetings`));
    await ask(tokens.staging, 'I would like a large pizza');
    await ask(tokens.staging, 'hello there');
    await eventually('three rows', async () => ((await feed.getByRole('row').count()) === 4 ? true : undefined));

    // Filter by environment: only staging's two requests remain, in the feed and in the charts.
    await page.getByLabel('Environment').selectOption('staging');
    await eventually('staging only', async () => {
      const texts = await feed.getByRole('row').allTextContents();
      return texts.length === 3 && texts.slice(1).every((t) => t.includes('staging')) ? true : undefined;
    });
    const requestsData = async () => {
      const details = page.getByRole('group').filter({ hasText: 'Show the data of “Requests per day”' });
      if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
      // One line per row, its cells separated by tabs.
      return page
        .getByRole('region', { name: 'Requests per day: data' })
        .locator('tr')
        .evaluateAll((rows) =>
          rows.map((r) => [...(r as HTMLTableRowElement).cells].map((c) => c.textContent).join('\t')).join('\n'),
        );
    };
    let shown = '';
    await eventually('the chart data filtered', async () =>
      /^\d{4}-\d\d-\d\d\t2$/m.test((shown = await requestsData())) ? true : undefined,
    ).catch((err) => {
      throw new Error(`${err.message}; the table said: ${shown}`);
    });
    await screenshot(page, 'monitor-staging');
    // ... and by version: production serves v1, staging v2; v1 alone has production's request.
    await page.getByLabel('Environment').selectOption('');
    await page.getByLabel('Version', { exact: true }).selectOption('v1');
    await eventually('v1 only', async () => {
      const texts = await feed.getByRole('row').allTextContents();
      return texts.length === 2 && texts[1]!.includes('production') ? true : undefined;
    });
    // ... and the chart counts v1's one request of the day.
    await eventually('the chart data of v1', async () =>
      /^\d{4}-\d\d-\d\d\t1$/m.test((shown = await requestsData())) ? true : undefined,
    ).catch((err) => {
      throw new Error(`${err.message}; the table said: ${shown}`);
    });
    // By status: nothing failed.
    await page.getByLabel('Status').selectOption('5xx');
    await page.getByText('No requests match these filters.').first().waitFor();
    await expect(feed.getByRole('row').count()).resolves.toBeLessThanOrEqual(1);
    expectNoProblems(problems);
  });

  it('on a resolver that follows a Git host, offers the CLI commands instead of committing', async () => {
    const { dir } = example();
    const host = tempDir('botver-host-');
    git(host, 'clone', '--quiet', '--bare', dir, 'bot.git');
    const before = git(host, '--git-dir', 'bot.git', 'for-each-ref');
    const remote = `file://${host}/bot.git`;
    const { url } = await botverServe(dir, { BOTVER_REMOTE: remote, BOTVER_CACHE_DIR: tempDir('botver-cache-') });
    const { page, problems } = await newPage(browser);
    await signIn(page, url);
    await open(page, '#/environments/production', 'Environments');
    await page
      .getByText(/follows a remote Git repository/)
      .first()
      .waitFor();
    const env = page.getByRole('region', { name: 'Environment production' });
    await env.getByLabel('Promote from').selectOption('staging');
    await env.getByRole('button', { name: 'Promote' }).click();
    const commands = page.getByRole('region', { name: 'Commands to run' });
    await expect(commands.locator('pre').textContent()).resolves.toBe(
      `git clone ${remote} bot && cd bot\nbotver promote staging production --author 'Ada Lovelace <ada@example.com>' --push`,
    );
    await screenshot(page, 'remote-commands');
    expect(git(host, '--git-dir', 'bot.git', 'for-each-ref')).toBe(before);
    expectNoProblems(problems);
  });

  it('passes axe-core with no serious violations and fits a phone, on every page; screenshots of each', async () => {
    const { url, tokens } = await readOnlyServer();
    await getJson(`${url}/v1/resolve`, auth(tokens.production)); // something in the feed
    for (const viewport of [DESKTOP, PHONE]) {
      const { page, problems } = await newPage(browser, viewport);
      await page.goto(`${url}/console/`);
      await page.getByLabel('Admin token').waitFor();
      expect(await accessibilityViolations(page), 'sign-in').toEqual([]);
      await screenshot(page, 'sign-in');
      await signIn(page, url);
      for (const [hash, heading, name] of [
        ['#/overview', 'Overview', 'overview'],
        ['#/versions', 'Versions', 'versions'],
        ['#/diff?from=v1&to=staging', /^Diff of v1 and staging/, 'diff-empty'],
        ['#/environments/staging', 'Environments', 'environments'],
        ['#/monitor', 'Monitor', 'monitor'],
      ] as const) {
        await open(page, hash, heading);
        // Loading states are done: no "Loading…" left.
        await eventually(`${name} loaded`, async () =>
          (await page.getByText(/^Loading/).count()) === 0 ? true : undefined,
        );
        expect(await accessibilityViolations(page), `${name} at ${viewport.width}px`).toEqual([]);
        expect(await scrollsSideways(page), `${name} scrolls sideways at ${viewport.width}px`).toBe(false);
        await screenshot(page, name);
      }
      // Keyboard: on a fresh load the first Tab reaches the skip link.
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Monitor' }).waitFor();
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.keyboard.press('Tab');
      await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Skip to content');
      expectNoProblems(problems);
      await page.context().close();
    }
  });
});

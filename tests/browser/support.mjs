// Shared pieces of the browser tests: the environment run-browser-tests sets, launching Chromium,
// pages that record console errors and warnings, signing in, sending a chat message and waiting for
// its answer, the memory panel, and metrics.json. The UI is reached only through its data-testid
// attributes and the HTTP API.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/browser/run-browser-tests`);
  return value;
}

export const BASE = required('BROWSER_BASE_URL').replace(/\/+$/, '');
export const USER_KEY = required('BROWSER_USER_KEY');
export const ADMIN_KEY = required('BROWSER_ADMIN_KEY');
export const A11Y_KEY = required('BROWSER_A11Y_KEY');
export const SCREENSHOT_DIR = required('SCREENSHOT_DIR');
const CHROMIUM_PATH = required('CHROMIUM_PATH');

/** The longest any one wait may take: generous for a slow machine, but bounded. */
export const WAIT = 20_000;
export const WIDE = { width: 1440, height: 900 };
export const NARROW = { width: 375, height: 812 };

/** Console messages that a test expects: the browser's own line about a response with this status. */
export const failedLoad = (status) => new RegExp(`Failed to load resource: .*\\b${status}\\b`);

const testid = (id) => `[data-testid="${id}"]`;

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/**
 * Runs `body(page)` in a fresh context of `browser`, then asserts that the page logged no console
 * error or warning and threw no uncaught error (except messages matching one of `allow`). On a
 * failure the page is saved as failed-<test name>.png beside the other screenshots.
 */
export async function withPage(t, browser, { viewport = WIDE, allow = [], contextOptions = {} } = {}, body) {
  const context = await browser.newContext({ viewport, acceptDownloads: true, ...contextOptions });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.setDefaultNavigationTimeout(WAIT);
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`uncaught error: ${error.message}`));
  try {
    await body(page);
    const unexpected = problems.filter((problem) => !allow.some((pattern) => pattern.test(problem)));
    assert.deepEqual(unexpected, [], 'the page logged errors or warnings');
  } catch (error) {
    await screenshot(page, `failed-${t.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`).catch(() => {});
    if (problems.length > 0) console.error(`console of "${t.name}":\n  ${problems.join('\n  ')}`);
    throw error;
  } finally {
    await context.close();
  }
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, name) });
}

/** Merges `values` into SCREENSHOT_DIR/metrics.json (objects under one key are merged too). */
export function recordMetrics(values) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, 'metrics.json');
  let metrics = {};
  try {
    metrics = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // no metrics yet (or unreadable ones): start afresh
  }
  const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
  for (const [key, value] of Object.entries(values)) {
    metrics[key] = isObject(metrics[key]) && isObject(value) ? { ...metrics[key], ...value } : value;
  }
  writeFileSync(file, `${JSON.stringify(metrics, null, 2)}\n`);
  console.log(JSON.stringify(values));
}

/** Waits until the network has been quiet for a moment (history and profile loaded), at most WAIT. */
export async function settle(page) {
  await page.waitForLoadState('networkidle', { timeout: WAIT }).catch(() => {
    // a page that keeps a connection open never goes idle; the waits that follow still apply
  });
}

/** Calls `probe` until `done(result)` holds or WAIT passes, and returns its last result. */
export async function pollUntil(probe, done, { timeout = WAIT, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let result = await probe();
  while (!done(result) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, interval));
    result = await probe();
  }
  return result;
}

/** Opens `path`, signs in with `key` through the sign-in form and waits for `ready` to be visible. */
export async function signIn(page, key, { path = '/', ready = 'composer-input' } = {}) {
  await page.goto(BASE + path);
  await page.getByTestId('signin-form').waitFor();
  await page.getByTestId('signin-token').fill(key);
  await page.getByTestId('signin-submit').click();
  if (ready) await page.getByTestId(ready).waitFor();
  await settle(page);
}

/** The text of an answer without its badge and citation buttons. Runs in the page. */
function answerTextInPage(element) {
  const copy = element.cloneNode(true);
  copy.querySelectorAll('[data-testid="assistant-badge"], [data-testid="citation"]').forEach((e) => e.remove());
  return copy.textContent.replace(/\s+/g, ' ').trim();
}

export const answerText = (locator) => locator.evaluate(answerTextInPage);

/**
 * Waits for the answer to the newest `message-user` holding `text` (there must be more than
 * `usersBefore` of them) to finish streaming; returns its `message-assistant` locator.
 */
export async function waitForAnswer(page, usersBefore, text) {
  const handle = await page.waitForFunction(
    ([before, wanted]) => {
      const normal = (s) => s.replace(/\s+/g, ' ').trim();
      const users = document.querySelectorAll('[data-testid="message-user"]');
      if (users.length <= before) return null;
      const last = users[users.length - 1];
      if (!normal(last.textContent).includes(normal(wanted))) return null;
      const answers = [...document.querySelectorAll('[data-testid="message-assistant"]')];
      const index = answers.findIndex((a) => last.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING);
      if (index < 0 || answers[index].getAttribute('data-streaming') !== 'false') return null;
      return { index };
    },
    [usersBefore, text],
    { timeout: WAIT, polling: 50 },
  );
  const { index } = await handle.jsonValue();
  return page.getByTestId('message-assistant').nth(index);
}

/** Types `text` into the composer, sends it (button or Enter) and returns the finished answer. */
export async function sendMessage(page, text, { via = 'button' } = {}) {
  const usersBefore = await page.getByTestId('message-user').count();
  const input = page.getByTestId('composer-input');
  await input.fill(text);
  if (via === 'enter') await input.press('Enter');
  else await page.getByTestId('composer-send').click();
  return waitForAnswer(page, usersBefore, text);
}

/** Shows the memory panel: wide screens may show it already, narrow ones keep it in a drawer. */
export async function openMemoryPanel(page) {
  const panel = page.getByTestId('memory-panel');
  if (!(await panel.isVisible())) await page.getByTestId('memory-toggle').click();
  await panel.waitFor();
  return panel;
}

/** Presses Tab (at most `limit` times) until the element with data-testid `id` has focus. */
export async function tabTo(page, id, limit = 30) {
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
  for (let presses = 0; presses <= limit; presses++) {
    if ((await focused()) === id) return presses;
    if (presses < limit) await page.keyboard.press('Tab');
  }
  assert.fail(`${limit} Tab presses never reached ${testid(id)} (focus is on ${await focused()})`);
}

/** An API call made outside the browser, with a Bearer key. */
export function api(path, key, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

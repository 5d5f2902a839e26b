// The admin page in headless Chromium: the overview's cards and charts, a knowledge store's life
// (create, upload, search, re-index, delete), the page refused to a user without the admin role, and
// the weight of the pages. run-browser-tests starts the server and passes its address, the keys and
// the screenshot folder in the environment. It runs before chat.test.mjs (files run in name order,
// one at a time), whose last test erases the user key that the first and third tests here use.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_KEY, BASE, USER_KEY, api, failedLoad, launchBrowser, pollUntil, recordMetrics, screenshot, settle,
  signIn, withPage,
} from './support.mjs';

const STORE = 'browser-docs';
const DOCUMENT = '# Lantern Bay Ferry timetable\n\nThe lantern ferry leaves at dawn from pier nine with a brass bell.\n';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Size and painted state of the canvas with data-testid `id` (or the canvas inside it). Runs in the page. */
function canvasStateInPage(id) {
  const element = document.querySelector(`[data-testid="${id}"]`);
  const canvas = element instanceof HTMLCanvasElement ? element : element?.querySelector('canvas');
  if (!canvas) return { found: Boolean(element), canvas: false };
  const box = canvas.getBoundingClientRect();
  const state = { found: true, canvas: true, width: box.width, height: box.height, painted: false };
  if (canvas.width === 0 || canvas.height === 0) return state;
  const copy = document.createElement('canvas');
  copy.width = canvas.width;
  copy.height = canvas.height;
  const context = copy.getContext('2d');
  context.drawImage(canvas, 0, 0);
  const pixels = context.getImageData(0, 0, copy.width, copy.height).data;
  for (let alpha = 3; alpha < pixels.length; alpha += 4) {
    if (pixels[alpha] > 0) {
      state.painted = true;
      break;
    }
  }
  return state;
}

/** The bytes a page fetched: its document and every resource, as transferred (or encoded). Runs in the page. */
function pageBytesInPage() {
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  return entries.reduce((sum, entry) => sum + (entry.transferSize || entry.encodedBodySize || 0), 0);
}

const storeRow = (page) => page.locator(`[data-testid="store-row"][data-store-name="${STORE}"]`);

/** Clicks `button`, then whatever in-page confirmation shows up, until `gone` is detached. */
async function clickAndConfirm(page, button, gone) {
  await button.click();
  const confirm = page.locator('[role="dialog"], [role="alertdialog"], dialog[open]')
    .getByRole('button', { name: /delete|confirm|yes|ok/i });
  const left = await pollUntil(async () => {
    const remaining = await gone.count();
    if (remaining > 0 && await confirm.first().isVisible()) await confirm.first().click();
    return remaining;
  }, (remaining) => remaining === 0, { interval: 200 });
  assert.equal(left, 0, 'the store is still listed after deleting it');
}

test('the overview shows its cards and paints its charts', async (t) => {
  for (const message of ['How do I find my ideal customer?', 'What should my brand voice sound like?',
    'How should I price my candles?']) {
    const response = await api('/api/chat', USER_KEY, { method: 'POST', body: { message } });
    const text = await response.text();
    assert.equal(response.status, 200, `POST /api/chat answered ${response.status}: ${text}`);
    JSON.parse(text);
  }

  await withPage(t, browser, {}, async (page) => {
    await signIn(page, ADMIN_KEY, { path: '/admin', ready: 'admin-overview' });
    for (const card of ['card-active-users', 'card-latency']) await page.getByTestId(card).waitFor();
    for (const chart of ['chart-latency', 'chart-assistants', 'chart-cost', 'chart-cache']) {
      const state = await pollUntil(() => page.evaluate(canvasStateInPage, chart),
        (s) => s.canvas && s.width > 0 && s.height > 0 && s.painted);
      assert.ok(state.canvas, `${chart} is not a canvas (or holds none): ${JSON.stringify(state)}`);
      assert.ok(state.width > 0 && state.height > 0, `${chart} has no size: ${JSON.stringify(state)}`);
      assert.ok(state.painted, `${chart} has nothing drawn on it`);
    }
    await screenshot(page, 'admin-1440.png');
  });
});

test('a knowledge store is created, filled, searched, re-indexed and deleted', async (t) => {
  await withPage(t, browser, {}, async (page) => {
    page.on('dialog', (dialog) => dialog.accept());
    await signIn(page, ADMIN_KEY, { path: '/admin', ready: 'admin-overview' });
    await page.getByTestId('stores-table').waitFor({ state: 'attached' }); // an empty table may have no size

    await page.getByTestId('store-create-name').fill(STORE);
    await page.getByTestId('store-create-submit').click();
    const row = storeRow(page);
    await row.waitFor();

    // The upload form is either in the store's row or applies to the selected store.
    let upload = row.getByTestId('upload-input');
    if (await upload.count() === 0) {
      const selected = await row.evaluate((r) => r.getAttribute('aria-selected') === 'true'
        || r.getAttribute('data-selected') === 'true' || r.classList.contains('selected'));
      if (!selected) await row.click({ position: { x: 5, y: 5 } });
      upload = page.getByTestId('upload-input');
    }
    await upload.setInputFiles({ name: 'lantern-bay.md', mimeType: 'text/markdown', buffer: Buffer.from(DOCUMENT) });

    // The progress indicator may show only briefly: watch for it before submitting.
    await page.evaluate(() => {
      const seen = () => [...document.querySelectorAll('[data-testid="upload-progress"]')]
        .some((e) => e.getClientRects().length > 0);
      window.__uploadProgressSeen = seen();
      new MutationObserver((_, observer) => {
        if (seen()) {
          window.__uploadProgressSeen = true;
          observer.disconnect();
        }
      }).observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true });
    });
    await page.getByTestId('upload-submit').click();
    const result = page.getByTestId('upload-result');
    await result.filter({ hasText: /added|indexed|uploaded/i }).waitFor();
    assert.ok(await page.evaluate(() => window.__uploadProgressSeen), 'upload-progress never showed');

    await page.getByTestId('store-search-input').fill('lantern ferry pier');
    await page.getByTestId('store-search-submit').click();
    await page.getByTestId('search-result').filter({ hasText: /pier nine/i }).first().waitFor();

    await row.getByTestId('reindex').click();
    await settle(page);
    assert.equal(await page.getByTestId('error-alert').isVisible(), false, 're-indexing showed an error');
    await row.waitFor();

    await clickAndConfirm(page, row.getByTestId('store-delete'), row);
    assert.equal(await page.getByTestId('error-alert').isVisible(), false, 'deleting the store showed an error');
  });
});

test('a user without the admin role is told the page needs it', async (t) => {
  // The refused admin API call shows up in the console as a failed load with status 403.
  await withPage(t, browser, { allow: [failedLoad(403)] }, async (page) => {
    await signIn(page, USER_KEY, { path: '/admin', ready: null });
    await page.getByText(/admin role/i).first().waitFor();
    assert.equal(await page.getByTestId('admin-overview').isVisible(), false, 'the overview is shown to a user');
  });
});

test('page weight of the chat and admin pages', async (t) => {
  const weights = {};
  for (const path of ['/', '/admin']) {
    await withPage(t, browser, {}, async (page) => {
      await page.goto(BASE + path);
      await page.waitForLoadState('load');
      await settle(page);
      const bytes = await page.evaluate(pageBytesInPage);
      assert.ok(bytes > 0, `${path} reported no bytes`);
      weights[path] = Math.round(bytes / 102.4) / 10;
    });
  }
  recordMetrics({ page_weight_kb: weights });
});

// Accessibility basics checked by axe-core in the real pages: every control labelled, AA contrast,
// landmarks, dialogs, at phone and desktop widths (WCAG 2 A and AA rules; no violation passes).
// The pages' Content-Security-Policy forbids injected scripts, so these contexts bypass it to load axe.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  A11Y_KEY, ADMIN_KEY, NARROW, WIDE, launchBrowser, openMemoryPanel, sendMessage, signIn, withPage,
} from './support.mjs';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** The WCAG 2 A/AA violations axe finds in the page as it is now, one line each. */
async function violations(page) {
  await page.addScriptTag({ path: axePath });
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  return found;
}

for (const viewport of [WIDE, NARROW]) {
  test(`the chat, its memory panel and a passage have no WCAG A/AA violations at ${viewport.width} px`, async (t) => {
    await withPage(t, browser, { viewport, contextOptions: { bypassCSP: true } }, async (page) => {
      await signIn(page, A11Y_KEY);
      await sendMessage(page, 'How do I find my ideal customer? Our price is $25 per candle.');
      assert.deepEqual(await violations(page), [], 'chat');
      await page.getByTestId('citation').last().click();
      await page.getByTestId('passage-cited').waitFor();
      assert.deepEqual(await violations(page), [], 'passage dialog');
      await page.keyboard.press('Escape');
      await page.getByTestId('passage-dialog').waitFor({ state: 'hidden' });
      await openMemoryPanel(page);
      assert.deepEqual(await violations(page), [], 'memory panel');
    });
  });

  test(`the admin page has no WCAG A/AA violations at ${viewport.width} px`, async (t) => {
    await withPage(t, browser, { viewport, contextOptions: { bypassCSP: true } }, async (page) => {
      await signIn(page, ADMIN_KEY, { path: '/admin', ready: 'admin-overview' });
      await page.getByTestId('stores-table').waitFor({ state: 'attached' });
      assert.deepEqual(await violations(page), [], 'admin');
    });
  });
}

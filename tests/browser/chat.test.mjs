// The chat page in headless Chromium: a streamed, cited answer and its passage, memory facts and
// their correction, the exports, keyboard-only use, a phone-sized screen, a wrong key, and erasing
// the user's data (last, since it erases the user's key too). run-browser-tests starts the server
// and passes its address, the keys and the screenshot folder in the environment.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  BASE, NARROW, USER_KEY, WAIT, answerText, api, failedLoad, launchBrowser, openMemoryPanel, recordMetrics,
  screenshot, sendMessage, settle, signIn, tabTo, waitForAnswer, withPage,
} from './support.mjs';

const HARBOR = 'My business is called Harbor Lights Candles and our price is $25 per candle.';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Reads a download's file as text. */
async function downloadText(download) {
  const path = await download.path();
  assert.ok(path, `download ${download.suggestedFilename()} failed: ${await download.failure()}`);
  return readFile(path, 'utf8');
}

/** Clicks `id` and returns the text of the file it downloads. */
async function downloadFrom(page, id) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(id).click()]);
  return downloadText(download);
}

/**
 * Starts sampling, every 20 ms, the newest answer after the `answersBefore` there are: the distinct
 * non-empty lengths of its text while data-streaming="true", when its first text appeared, and when
 * it finished. The clock starts at the click on the send button or Enter in the composer.
 */
function watchStream(page, answersBefore) {
  return page.evaluate((before) => {
    const watch = { t0: null, tFirst: null, lengths: [], done: false };
    window.__streamWatch = watch;
    const start = () => {
      if (watch.t0 === null) watch.t0 = performance.now();
    };
    document.addEventListener('click', (e) => e.target.closest?.('[data-testid="composer-send"]') && start(), true);
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target.closest?.('[data-testid="composer-input"]')) start();
    }, true);
    const text = (element) => {
      const copy = element.cloneNode(true);
      copy.querySelectorAll('[data-testid="assistant-badge"], [data-testid="citation"]').forEach((e) => e.remove());
      return copy.textContent.trim();
    };
    const timer = setInterval(() => {
      const answers = document.querySelectorAll('[data-testid="message-assistant"]');
      if (answers.length <= before) return;
      const answer = answers[answers.length - 1];
      const length = text(answer).length;
      if (length > 0 && watch.tFirst === null) watch.tFirst = performance.now();
      const streaming = answer.getAttribute('data-streaming');
      if (streaming === 'true' && length > 0 && !watch.lengths.includes(length)) watch.lengths.push(length);
      if (streaming === 'false') {
        watch.done = true;
        clearInterval(timer);
      }
    }, 20);
  }, answersBefore);
}

/** Index (among all citations) of the first citation after the newest user message. */
function firstNewCitation(page) {
  return page.evaluate(() => {
    const users = document.querySelectorAll('[data-testid="message-user"]');
    const last = users[users.length - 1];
    const citations = [...document.querySelectorAll('[data-testid="citation"]')];
    return citations.findIndex((c) => last && last.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
  });
}

test('an answer from a model grows token by token while it streams', async (t) => {
  // The second server (local mode: no sign-in) answers through a model that sends a word every 40 ms.
  await withPage(t, browser, {}, async (page) => {
    await page.goto(process.env.BROWSER_STREAM_BASE_URL + '/');
    await page.getByTestId('composer-input').waitFor();
    await watchStream(page, await page.getByTestId('message-assistant').count());
    await page.getByTestId('composer-input').fill('How do I find my ideal customer?');
    await page.getByTestId('composer-send').click();
    await page.waitForFunction(() => window.__streamWatch.done, null, { timeout: WAIT });
    const watch = await page.evaluate(() => window.__streamWatch);
    assert.ok(watch.lengths.length > 3,
      `the answer should grow while data-streaming="true"; lengths seen: ${JSON.stringify(watch.lengths)}`);
    const answers = page.getByTestId('message-assistant');
    assert.match(await answers.last().textContent(), /one customer you serve best/);
    assert.ok(await answers.last().getByTestId('citation').count() > 0, 'the model\'s [1] is a citation');
  });
});

test('an answer streams in with a badge and citations that open their passage', async (t) => {
  await withPage(t, browser, {}, async (page) => {
    await signIn(page, USER_KEY);
    const question = 'How do I find my ideal customer?';
    const usersBefore = await page.getByTestId('message-user').count();
    await watchStream(page, await page.getByTestId('message-assistant').count());
    await page.getByTestId('composer-input').fill(question);
    await page.getByTestId('composer-send').click();
    await page.waitForFunction(() => window.__streamWatch.done, null, { timeout: WAIT });
    const watch = await page.evaluate(() => window.__streamWatch);
    assert.ok(watch.t0 !== null, 'the click on composer-send was not seen');
    assert.ok(watch.tFirst !== null, 'no answer text appeared');
    recordMetrics({ ttft_ms: Math.round(Math.max(0, watch.tFirst - watch.t0)) });

    const answer = await waitForAnswer(page, usersBefore, question);
    assert.ok((await answerText(answer)).length > 0);
    const badge = answer.getByTestId('assistant-badge');
    await badge.waitFor();
    assert.ok((await badge.textContent()).trim().length > 0, 'the assistant badge names no assistant');

    await page.waitForFunction(() => {
      const users = document.querySelectorAll('[data-testid="message-user"]');
      const last = users[users.length - 1];
      return [...document.querySelectorAll('[data-testid="citation"]')]
        .some((c) => last.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING);
    }, null, { timeout: WAIT });
    await page.getByTestId('citation').nth(await firstNewCitation(page)).click();
    const dialog = page.getByTestId('passage-dialog');
    await dialog.waitFor();
    const cited = dialog.getByTestId('passage-cited');
    await cited.waitFor();
    assert.ok((await cited.textContent()).trim().length > 0, 'the cited passage is empty');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await screenshot(page, 'chat-1440.png');
  });
});

test('a remembered price can be corrected and the next answer uses the correction', async (t) => {
  await withPage(t, browser, {}, async (page) => {
    await signIn(page, USER_KEY);
    await sendMessage(page, HARBOR);
    const panel = await openMemoryPanel(page);

    // The price fact: by its key when it has one, otherwise by its text.
    const found = await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="fact"]')];
      const valueOf = (row) => (row.querySelector('[data-testid="fact-value"]') ?? row).textContent;
      const row = rows.find((r) => /price/i.test(r.getAttribute('data-key') ?? '') && valueOf(r).includes('25'))
        ?? rows.find((r) => /price/i.test(r.textContent) && valueOf(r).includes('25'))
        ?? rows.find((r) => valueOf(r).includes('$25'));
      return row ? { id: row.getAttribute('data-fact-id'), key: row.getAttribute('data-key') } : null;
    }, null, { timeout: WAIT, polling: 100 });
    const { id, key } = await found.jsonValue();
    assert.ok(id, 'the price fact row has no data-fact-id');

    const row = panel.locator(`[data-testid="fact"][data-fact-id="${id}"]`);
    await row.getByTestId('fact-correct').click();
    const input = page.getByTestId('fact-correct-input');
    await input.fill('$30 per candle');
    await page.getByTestId('fact-correct-save').click();

    // The corrected row (same id, or the same key if the correction replaced the fact) shows $30.
    await page.waitForFunction(([oldId, oldKey]) => {
      const rows = [...document.querySelectorAll('[data-testid="fact"]')]
        .filter((r) => r.getAttribute('data-fact-id') === oldId || (oldKey && r.getAttribute('data-key') === oldKey));
      const values = rows.map((r) => (r.querySelector('[data-testid="fact-value"]') ?? r).textContent);
      return values.some((v) => v.includes('$30')) && !values.some((v) => v.includes('$25'));
    }, [id, key], { timeout: WAIT, polling: 100 });
    await screenshot(page, 'memory-1440.png');

    const answer = await answerText(await sendMessage(page, 'What is my price?'));
    assert.match(answer, /30/, `the answer does not use the corrected price: ${answer}`);
    assert.doesNotMatch(answer, /\$25/, `the answer still uses the old price: ${answer}`);
  });
});

test('the exports hold what the user said', async (t) => {
  await withPage(t, browser, {}, async (page) => {
    await signIn(page, USER_KEY);
    await sendMessage(page, HARBOR);
    await openMemoryPanel(page);

    const json = await downloadFrom(page, 'export-json');
    let parsed;
    assert.doesNotThrow(() => {
      parsed = JSON.parse(json);
    }, 'the JSON export does not parse');
    assert.ok(JSON.stringify(parsed).includes('Harbor Lights'), 'the JSON export lacks the conversation');

    const markdown = await downloadFrom(page, 'export-md');
    assert.ok(markdown.includes('Harbor Lights'), 'the Markdown export lacks the conversation');
  });
});

test('the chat works from the keyboard alone', async (t) => {
  await withPage(t, browser, {}, async (page) => {
    await page.goto(`${BASE}/`);
    await page.getByTestId('signin-form').waitFor();
    await tabTo(page, 'signin-token');
    await page.keyboard.type(USER_KEY);
    await page.keyboard.press('Enter');
    await page.getByTestId('composer-input').waitFor();
    await settle(page);

    await tabTo(page, 'composer-input');
    const text = 'Which social channel suits a candle shop?';
    const usersBefore = await page.getByTestId('message-user').count();
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
    const answer = await waitForAnswer(page, usersBefore, text);
    assert.ok((await answerText(answer)).length > 0, 'the answer is empty');
  });
});

test('a phone-sized screen has no horizontal scroll and a memory drawer', async (t) => {
  await withPage(t, browser, { viewport: NARROW }, async (page) => {
    const scrollWidth = () => page.evaluate(() => document.documentElement.scrollWidth);
    await signIn(page, USER_KEY);
    assert.ok(await scrollWidth() <= NARROW.width, `the page is ${await scrollWidth()} px wide`);

    await page.getByTestId('memory-toggle').click();
    await page.getByTestId('memory-panel').waitFor();
    assert.ok(await scrollWidth() <= NARROW.width, `with the drawer open the page is ${await scrollWidth()} px wide`);
    await screenshot(page, 'chat-375.png');
  });
});

test('a wrong key is refused at sign-in', async (t) => {
  // The refused request shows up in the console as a failed load with status 401.
  await withPage(t, browser, { allow: [failedLoad(401)] }, async (page) => {
    await page.goto(`${BASE}/`);
    await page.getByTestId('signin-form').waitFor();
    await page.getByTestId('signin-token').fill('bck_wrong');
    await page.getByTestId('signin-submit').click();
    await page.waitForFunction(() => {
      const visible = (e) => e && e.getClientRects().length > 0;
      const alert = document.querySelector('[data-testid="error-alert"]');
      const form = document.querySelector('[data-testid="signin-form"]');
      return (visible(alert) && alert.textContent.trim().length > 0)
        || (visible(form) && /invalid|incorrect|wrong|unauthori[sz]ed|not recogni[sz]ed|rejected|denied|error|401/i
          .test(form.textContent));
    }, null, { timeout: WAIT, polling: 100 });
    await settle(page);
    assert.equal(await page.getByTestId('composer-input').isVisible(), false, 'the chat is reachable with a wrong key');
    assert.equal(await page.getByTestId('message-user').count(), 0);
  });
});

test('deleting my data leaves no facts or messages behind', async (t) => {
  // Erasing the user erases their key too, so the page's next requests are refused with 401.
  await withPage(t, browser, { allow: [failedLoad(401)] }, async (page) => {
    await signIn(page, USER_KEY);
    await sendMessage(page, HARBOR);
    await openMemoryPanel(page);
    await page.getByTestId('fact').first().waitFor();

    await page.getByTestId('delete-data').click();
    await page.getByTestId('delete-confirm-input').fill('DELETE');
    await page.getByTestId('delete-confirm-submit').click();
    const nothingLeft = () => page.waitForFunction(() => {
      const visible = (e) => e && e.getClientRects().length > 0;
      if (visible(document.querySelector('[data-testid="signin-form"]'))) return true;
      return document.querySelectorAll('[data-testid="fact"], [data-testid="message-user"]').length === 0;
    }, null, { timeout: WAIT, polling: 100 });
    await nothingLeft();

    await page.reload();
    await page.waitForFunction(() => document.querySelector(
      '[data-testid="signin-form"], [data-testid="composer-input"]'), null, { timeout: WAIT });
    await settle(page);
    if (await page.getByTestId('composer-input').isVisible()) await openMemoryPanel(page);
    await nothingLeft();
    assert.equal(await page.getByTestId('message-user').count(), 0, 'messages are still shown');
    assert.equal(await page.getByTestId('fact').count(), 0, 'facts are still shown');

    const profile = await api('/api/me/profile', USER_KEY);
    if (profile.status === 200) {
      const body = await profile.json();
      assert.equal((body.facts ?? []).length, 0, 'the server still holds facts');
    } else {
      assert.equal(profile.status, 401, 'the erased key should be refused');
    }
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ASSISTANT_COLORS,
  contrastRatio,
  formatMs,
  formatPercent,
  formatUsd,
  parseHex,
  readableOnWhite,
  textOn,
} from '../src/format.js';

test('unknown values show as a dash', () => {
  assert.equal(formatPercent(null), '—');
  assert.equal(formatUsd(undefined), '—');
  assert.equal(formatMs(Number.NaN), '—');
});

test('numbers', () => {
  assert.equal(formatPercent(0.1234), '12.3%');
  assert.equal(formatUsd(0.0042), '$0.0042');
  assert.equal(formatUsd(3.5), '$3.50');
  assert.equal(formatMs(812.4), '812 ms');
  assert.equal(formatMs(12500), '12.5 s');
});

test('assistant colours carry white text at WCAG AA and are distinct', () => {
  const colors = Object.values(ASSISTANT_COLORS);
  assert.equal(new Set(colors).size, 5);
  for (const c of colors) assert.ok(contrastRatio(parseHex(c), [255, 255, 255]) >= 4.5, c);
});

test('brand colours get readable text', () => {
  assert.equal(textOn('#ffcc00'), '#000000');
  assert.equal(textOn('#1f4e79'), '#ffffff');
  for (const c of ['#ffcc00', '#00ff00', '#87ceeb', '#1f4e79']) {
    assert.ok(contrastRatio(parseHex(readableOnWhite(c)), [255, 255, 255]) >= 4.5, c);
  }
});

// Overlapping chunks are shown once each, and the cited chunk always whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overlapLength, trimOverlaps } from '../src/overlap.js';

const words = (from, to) =>
  Array.from({ length: to - from }, (_, i) => `word${from + i}`).join(' ');

test('overlapLength finds the shared tail and ignores short coincidences', () => {
  const shared = 'the shared part of the text, long enough that it repeats in full';
  assert.equal(overlapLength(`abc ${shared}`, `${shared} and more`), shared.length);
  assert.equal(overlapLength('the end', 'the end of something else entirely, far longer than the probe is'), 0);
  assert.equal(overlapLength('', 'x'), 0);
});

test('document text reads once through overlapping chunks', () => {
  const a = { id: 1, text: words(0, 40) };
  const b = { id: 2, text: words(20, 60) };
  const c = { id: 3, text: words(40, 80) };
  const shown = trimOverlaps([a, b, c], 99);
  assert.equal(shown.map((p) => p.display).join(''), words(0, 80));
});

test('the cited chunk is kept whole; its predecessor gives up the overlap', () => {
  const a = { id: 1, text: words(0, 40) };
  const b = { id: 2, text: words(20, 60) };
  const c = { id: 3, text: words(40, 80) };
  const shown = trimOverlaps([a, b, c], 2);
  assert.equal(shown[1].display, b.text);
  assert.equal(shown.map((p) => p.display).join(''), words(0, 80));
});

test('chunks that do not overlap are left alone', () => {
  const shown = trimOverlaps([{ id: 1, text: 'alpha' }, { id: 2, text: 'beta' }], 1);
  assert.deepEqual(shown.map((p) => p.display), ['alpha', 'beta']);
});

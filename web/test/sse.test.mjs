// The SSE parser must cut /api/chat's stream into events whatever sizes the network's chunks are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSseParser } from '../src/sse.js';

const STREAM =
  'event: route\ndata: {"assistant":"avatar","confidence":0.9}\n\n' +
  ': keep-alive\n\n' +
  'event: delta\ndata: {"text":"Hel"}\n\n' +
  'event: delta\r\ndata: {"text":"lo\\n"}\r\n\r\n' +
  'event: citation\ndata: {"number":1}\n\n' +
  'event: done\ndata: {"reply":"Hello\\n"}\n\n';

function parse(chunks) {
  const events = [];
  const parser = createSseParser((name, data) => events.push([name, JSON.parse(data)]));
  for (const c of chunks) parser.push(c);
  parser.end();
  return events;
}

const expected = [
  ['route', { assistant: 'avatar', confidence: 0.9 }],
  ['delta', { text: 'Hel' }],
  ['delta', { text: 'lo\n' }],
  ['citation', { number: 1 }],
  ['done', { reply: 'Hello\n' }],
];

test('whole stream in one chunk', () => {
  assert.deepEqual(parse([STREAM]), expected);
});

test('one character at a time, CRLF split across chunks', () => {
  assert.deepEqual(parse([...STREAM]), expected);
});

test('every split point of the stream', () => {
  for (let i = 1; i < STREAM.length; i++) {
    assert.deepEqual(parse([STREAM.slice(0, i), STREAM.slice(i)]), expected, `split at ${i}`);
  }
});

test('multi-line data is joined with newlines; a last event without a blank line still counts', () => {
  const events = [];
  const parser = createSseParser((name, data) => events.push([name, data]));
  parser.push('data: a\ndata: b\n\nevent: done\ndata:c');
  parser.end();
  assert.deepEqual(events, [
    ['message', 'a\nb'],
    ['done', 'c'],
  ]);
});

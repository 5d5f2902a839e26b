// The official openai package against brandcoach's /v1 surface: models, chat completions (plain and
// streamed), and errors surfacing as the SDK's typed errors. run-sdk-tests starts the server and
// passes its address and keys in the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.SDK_BASE_URL;
const userKey = process.env.SDK_USER_KEY;
const otherKey = process.env.SDK_OTHER_KEY;

const client = (apiKey = userKey) => new OpenAI({ baseURL, apiKey, maxRetries: 0 });

test('lists the routed model and one pinned model per assistant', async () => {
  const ids = [];
  for await (const model of client().models.list()) ids.push(model.id);
  assert.deepEqual(ids.sort(), ['brandcoach', 'brandcoach-avatar', 'brandcoach-canvas', 'brandcoach-capture',
    'brandcoach-core', 'brandcoach-diagnostic']);
  const one = await client().models.retrieve('brandcoach-avatar');
  assert.equal(one.object, 'model');
  await assert.rejects(client().models.retrieve('gpt-9'), OpenAI.NotFoundError);
});

test('a chat completion is routed, cited and counted', async () => {
  const completion = await client().chat.completions.create({
    model: 'brandcoach',
    messages: [{ role: 'system', content: 'ignored: each assistant has its own instructions' },
               { role: 'user', content: 'How do I find my ideal customer?' }],
  });
  assert.equal(completion.object, 'chat.completion');
  assert.match(completion.id, /^chatcmpl-/);
  assert.equal(completion.choices.length, 1);
  assert.equal(completion.choices[0].message.role, 'assistant');
  assert.equal(completion.choices[0].finish_reason, 'stop');
  assert.match(completion.choices[0].message.content, /\[1\]/);
  assert.ok(completion.usage.completion_tokens > 0);
  assert.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens);
  assert.equal(completion.brandcoach.assistant, 'avatar');
  assert.ok(completion.brandcoach.citations.length > 0);
});

test('a pinned model answers with that assistant', async () => {
  const completion = await client().chat.completions.create({
    model: 'brandcoach-capture',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What should I do first?' }] }],
  });
  assert.equal(completion.brandcoach.assistant, 'capture');
  assert.equal(completion.brandcoach.route.method, 'pinned');
});

test('a streamed completion arrives as chunks that add up to the answer', async () => {
  const stream = await client().chat.completions.create({
    model: 'brandcoach',
    messages: [{ role: 'user', content: 'What channels should I use to sell?' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let role = null;
  let finish = null;
  let usage = null;
  let chunks = 0;
  let id = null;
  for await (const chunk of stream) {
    chunks += 1;
    assert.equal(chunk.object, 'chat.completion.chunk');
    id ??= chunk.id;
    assert.equal(chunk.id, id, 'every chunk of one completion has its id');
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta.role) role = choice.delta.role;
      if (choice.delta.content) text += choice.delta.content;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  assert.equal(finish, 'stop');
  assert.ok(chunks > 3);
  assert.match(text, /\*\*Next step:\*\*/);
  assert.ok(usage && usage.completion_tokens > 0);
});

test('the thread is per user: another key does not see what this one said', async () => {
  await client().chat.completions.create({
    model: 'brandcoach',
    messages: [{ role: 'user', content: 'My company is called Lanternfish Studio.' }],
  });
  const other = await client(otherKey).chat.completions.create({
    model: 'brandcoach',
    messages: [{ role: 'user', content: 'What is my company called?' }],
  });
  assert.doesNotMatch(other.choices[0].message.content, /Lanternfish/);
  const mine = await client().chat.completions.create({
    model: 'brandcoach',
    messages: [{ role: 'user', content: 'What is my company called?' }],
  });
  assert.match(mine.choices[0].message.content, /Lanternfish/);
});

test('errors are the SDK typed errors', async () => {
  await assert.rejects(client('bck_not-a-real-key').chat.completions.create({
    model: 'brandcoach', messages: [{ role: 'user', content: 'hi' }],
  }), OpenAI.AuthenticationError);
  await assert.rejects(client().chat.completions.create({
    model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }],
  }), OpenAI.NotFoundError);
  await assert.rejects(client().chat.completions.create({
    model: 'brandcoach', messages: [{ role: 'assistant', content: 'no user message' }],
  }), (error) => error instanceof OpenAI.BadRequestError && error.param === 'messages');
  await assert.rejects(client().chat.completions.create({
    model: 'brandcoach', messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f' } }],
  }), OpenAI.BadRequestError);
});

test('a rate-limited caller gets RateLimitError', async () => {
  // The server runs with a burst of 100 per user; a key of its own keeps the other tests clear of it.
  const limited = client(process.env.SDK_LIMITED_KEY);
  let rateLimited = null;
  for (let i = 0; i < 150 && !rateLimited; i += 1) {
    try {
      await limited.models.list();
    } catch (error) {
      rateLimited = error;
    }
  }
  assert.ok(rateLimited instanceof OpenAI.RateLimitError, String(rateLimited));
  assert.ok(Number(rateLimited.headers.get('retry-after')) >= 1);
});

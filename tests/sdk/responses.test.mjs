// The official openai package against brandcoach's Responses API: create, retrieve, input items and
// delete; streaming with every event in order; previous_response_id continuity; the file_search tool
// over the caller's vector stores; errors as the SDK's typed errors; isolation between users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';

const baseURL = process.env.SDK_BASE_URL;
const userKey = process.env.SDK_RESPONSES_KEY;
const otherKey = process.env.SDK_OTHER_KEY;

const client = (apiKey = userKey) => new OpenAI({ baseURL, apiKey, maxRetries: 0 });

test('a response is created, read back with its input items, and deleted', async () => {
  const response = await client().responses.create({
    model: 'brandcoach',
    input: 'How do I find my ideal customer?',
    metadata: { source: 'sdk-test' },
  });
  assert.match(response.id, /^resp_/);
  assert.equal(response.object, 'response');
  assert.equal(response.status, 'completed');
  assert.equal(response.model, 'brandcoach');
  assert.deepEqual(response.metadata, { source: 'sdk-test' });
  assert.equal(response.output.length, 1);
  const [message] = response.output;
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.equal(message.content[0].type, 'output_text');
  assert.ok(response.output_text.length > 0);
  assert.equal(response.output_text, message.content[0].text);
  const citations = message.content[0].annotations;
  assert.ok(citations.length > 0);
  for (const c of citations) {
    assert.equal(c.type, 'file_citation');
    assert.match(c.file_id, /^file-/);
    assert.ok(c.filename.length > 0);
    assert.equal([...response.output_text].slice(c.index, c.index + 1).join(''), '[');
  }
  assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);
  assert.equal(response.brandcoach.assistant, 'avatar');

  const again = await client().responses.retrieve(response.id);
  assert.equal(again.id, response.id);
  assert.equal(again.output_text, response.output_text);
  const items = [];
  for await (const item of client().responses.inputItems.list(response.id)) items.push(item);
  assert.equal(items.length, 1);
  assert.equal(items[0].role, 'user');
  assert.deepEqual(items[0].content, [{ type: 'input_text', text: 'How do I find my ideal customer?' }]);

  await client().responses.delete(response.id);
  await assert.rejects(client().responses.retrieve(response.id), OpenAI.NotFoundError);
  await assert.rejects(client().responses.delete(response.id), OpenAI.NotFoundError);
});

test('a streamed response emits every event in order with sequence numbers', async () => {
  const stream = await client().responses.create({
    model: 'brandcoach-canvas',
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'Help me fill in my brand canvas.' }] }],
    stream: true,
  });
  const events = [];
  for await (const event of stream) events.push(event);
  const types = events.map((e) => e.type);
  const deltas = events.filter((e) => e.type === 'response.output_text.delta');
  assert.ok(deltas.length > 0);
  const distinct = types.filter((t, i) => t !== types[i - 1] && t !== 'response.output_text.annotation.added');
  assert.deepEqual(distinct, [
    'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
    'response.output_text.delta', 'response.output_text.done', 'response.content_part.done',
    'response.output_item.done', 'response.completed',
  ]);
  events.forEach((e, i) => assert.equal(e.sequence_number, i));
  const completed = events.at(-1).response;
  const text = deltas.map((d) => d.delta).join('');
  assert.equal(events.find((e) => e.type === 'response.output_text.done').text, text);
  assert.equal(completed.output[0].content[0].text, text);
  assert.equal(completed.brandcoach.assistant, 'canvas');
  const stored = await client().responses.retrieve(completed.id);
  assert.equal(stored.output[0].content[0].text, text);
});

test('previous_response_id continues the conversation', async () => {
  const first = await client().responses.create({
    model: 'brandcoach',
    input: 'My business is called Sunrise Loaf and we bake sourdough for commuters.',
  });
  const second = await client().responses.create({
    model: 'brandcoach',
    input: 'What is my business called?',
    previous_response_id: first.id,
  });
  assert.equal(second.previous_response_id, first.id);
  assert.match(second.output_text, /Sunrise Loaf/);
  await assert.rejects(
    client().responses.create({ model: 'brandcoach', input: 'hi', previous_response_id: 'resp_nope' }),
    OpenAI.NotFoundError);
  await assert.rejects(
    client(otherKey).responses.create({ model: 'brandcoach', input: 'hi', previous_response_id: first.id }),
    OpenAI.NotFoundError);
  await assert.rejects(client(otherKey).responses.retrieve(first.id), OpenAI.NotFoundError);
  await assert.rejects(client(otherKey).responses.delete(first.id), OpenAI.NotFoundError);
  await assert.rejects(client(otherKey).responses.inputItems.list(first.id).then((p) => p.data), OpenAI.NotFoundError);
});

test('file_search searches the caller\'s vector store and cites its file', async () => {
  const guide = `# Tidewater Kayak Tours brand voice

Our guides speak like a calm friend at the water's edge: warm, unhurried and precise.
Every tour ends with the sunset paddle ritual, which customers describe as the best hour of their trip.
`;
  const file = await client().files.create({ file: await toFile(Buffer.from(guide), 'voice.md'), purpose: 'assistants' });
  const store = await client().vectorStores.create({ name: 'tidewater', file_ids: [file.id] });
  const tools = [{ type: 'file_search', vector_store_ids: [store.id], max_num_results: 3 }];
  const response = await client().responses.create({
    model: 'brandcoach-core',
    input: 'What is the sunset paddle ritual in our brand voice?',
    tools,
    include: ['file_search_call.results'],
  });
  assert.equal(response.output.length, 2);
  const [search, message] = response.output;
  assert.equal(search.type, 'file_search_call');
  assert.equal(search.status, 'completed');
  assert.deepEqual(search.queries, ['What is the sunset paddle ritual in our brand voice?']);
  assert.ok(search.results.length > 0);
  assert.equal(search.results[0].file_id, file.id);
  assert.equal(search.results[0].filename, 'voice.md');
  assert.match(search.results[0].text, /sunset paddle/);
  assert.equal(message.type, 'message');
  assert.ok(message.content[0].annotations.some((a) => a.file_id === file.id && a.filename === 'voice.md'));

  const stream = await client().responses.create({
    model: 'brandcoach-core', input: 'Describe the sunset paddle ritual.', tools, stream: true,
  });
  const types = [];
  for await (const event of stream) types.push(event.type);
  const distinct = types.filter((t, i) => t !== types[i - 1] && t !== 'response.output_text.annotation.added');
  assert.deepEqual(distinct.slice(0, 7), [
    'response.created', 'response.in_progress', 'response.output_item.added',
    'response.file_search_call.in_progress', 'response.file_search_call.searching',
    'response.file_search_call.completed', 'response.output_item.done',
  ]);
  assert.equal(distinct.at(-1), 'response.completed');

  await assert.rejects(client(otherKey).responses.create({ model: 'brandcoach', input: 'hi', tools }),
    OpenAI.NotFoundError);
  await client().vectorStores.delete(store.id);
  await client().files.delete(file.id);
});

test('bad requests surface as typed errors naming the field', async () => {
  const expect400 = async (body, param) => {
    await assert.rejects(client().responses.create({ model: 'brandcoach', input: 'hello', ...body }), (error) => {
      assert.ok(error instanceof OpenAI.BadRequestError, String(error));
      assert.equal(error.status, 400);
      assert.equal(error.param, param);
      return true;
    });
  };
  await expect400({ tools: [{ type: 'web_search' }] }, 'tools');
  await expect400({ temperature: 7 }, 'temperature');
  await expect400({ max_output_tokens: 2 }, 'max_output_tokens');
  await expect400({ input: [] }, 'input');
  await expect400({ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] }, 'input');
  await expect400({ tools: [{ type: 'file_search', vector_store_ids: ['vs_x'], filters: { type: 'eq' } }] }, 'tools');
  await expect400({ text: { format: { type: 'json_object' } } }, 'text');
  await expect400({ frobnicate: true }, 'frobnicate');
  await assert.rejects(client().responses.create({ model: 'gpt-9', input: 'hello' }), OpenAI.NotFoundError);
  await assert.rejects(new OpenAI({ baseURL, apiKey: 'bck_revoked-or-made-up', maxRetries: 0 })
    .responses.create({ model: 'brandcoach', input: 'hello' }), OpenAI.AuthenticationError);
});

test('store: false answers without keeping the response', async () => {
  const response = await client().responses.create({ model: 'brandcoach', input: 'Give me one branding tip.', store: false });
  assert.equal(response.store, false);
  await assert.rejects(client().responses.retrieve(response.id), OpenAI.NotFoundError);
});

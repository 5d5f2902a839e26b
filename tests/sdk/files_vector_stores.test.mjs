// The official openai package against brandcoach's Files and Vector Stores API: uploads, vector
// stores with attributes, search with filters, pagination, failures and isolation between users.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';

const baseURL = process.env.SDK_BASE_URL;
const ownerKey = process.env.SDK_STORE_KEY;
const otherKey = process.env.SDK_OTHER_KEY;

const client = (apiKey = ownerKey) => new OpenAI({ baseURL, apiKey, maxRetries: 0 });

const northGuide = `# Harbour Roasters wholesale guide

Our cold brew concentrate ships to cafes in the northern district every Tuesday.
Wholesale partners receive a laminated brewing card and a tasting flight of three single origins.

## Pricing for cafes

Cafes pay twelve dollars per litre of concentrate, with free delivery above twenty litres.
`;

const southGuide = `# Harbour Roasters market stall playbook

At the southern farmers market we sell pour-over by the cup and beans by the bag.
The stall banner shows the lighthouse logo and the tagline "roasted where the ships come in".

## Loyalty stamps

Every tenth cup is free; regulars collect stamps on a kraft paper card.
`;

async function upload(name, text, purpose = 'assistants', apiKey = ownerKey) {
  return client(apiKey).files.create({ file: await toFile(Buffer.from(text), name), purpose });
}

test('files are uploaded, listed, read back and deleted', async () => {
  const file = await upload('north.md', northGuide);
  assert.match(file.id, /^file-/);
  assert.equal(file.object, 'file');
  assert.equal(file.filename, 'north.md');
  assert.equal(file.bytes, Buffer.byteLength(northGuide));
  assert.equal(file.purpose, 'assistants');

  const again = await client().files.retrieve(file.id);
  assert.equal(again.id, file.id);
  const ids = [];
  for await (const f of client().files.list({ purpose: 'assistants' })) ids.push(f.id);
  assert.ok(ids.includes(file.id));
  const content = await client().files.content(file.id);
  assert.equal(await content.text(), northGuide);

  const deleted = await client().files.delete(file.id);
  assert.deepEqual(deleted, { id: file.id, object: 'file', deleted: true });
  await assert.rejects(client().files.retrieve(file.id), OpenAI.NotFoundError);
});

test('an unsupported purpose and an empty file are 400s', async () => {
  await assert.rejects(upload('batch.jsonl', '{}\n', 'batch'), (error) => {
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.param, 'purpose');
    return true;
  });
  await assert.rejects(upload('empty.md', ''), OpenAI.BadRequestError);
});

test('a vector store holds files with attributes and searches them with filters', async () => {
  const north = await upload('north.md', northGuide);
  const south = await upload('south.md', southGuide);
  const store = await client().vectorStores.create({ name: 'Harbour Roasters', metadata: { team: 'growth' } });
  assert.match(store.id, /^vs_/);
  assert.equal(store.object, 'vector_store');
  assert.equal(store.name, 'Harbour Roasters');
  assert.deepEqual(store.metadata, { team: 'growth' });

  const first = await client().vectorStores.files.create(store.id, {
    file_id: north.id, attributes: { region: 'north', year: 2024 },
  });
  assert.equal(first.object, 'vector_store.file');
  assert.equal(first.id, north.id);
  assert.equal(first.vector_store_id, store.id);
  assert.equal(first.status, 'completed');
  assert.deepEqual(first.attributes, { region: 'north', year: 2024 });
  const second = await client().vectorStores.files.createAndPoll(store.id, {
    file_id: south.id,
    attributes: { region: 'south', year: 2025 },
    chunking_strategy: { type: 'static', static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 50 } },
  });
  assert.equal(second.status, 'completed');
  assert.deepEqual(second.chunking_strategy, {
    type: 'static', static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 50 },
  });

  const fetched = await client().vectorStores.files.retrieve(north.id, { vector_store_id: store.id });
  assert.equal(fetched.id, north.id);
  const counted = await client().vectorStores.retrieve(store.id);
  assert.equal(counted.file_counts.completed, 2);
  assert.equal(counted.file_counts.total, 2);
  assert.ok(counted.usage_bytes >= Buffer.byteLength(northGuide) + Buffer.byteLength(southGuide));

  const results = [];
  for await (const r of client().vectorStores.search(store.id, { query: 'what do cafes pay for concentrate?' })) {
    results.push(r);
  }
  assert.ok(results.length > 0);
  assert.equal(results[0].file_id, north.id);
  assert.equal(results[0].filename, 'north.md');
  assert.match(results[0].content[0].text, /twelve dollars/);
  for (const r of results) assert.ok(r.score >= 0 && r.score <= 1, `score ${r.score}`);

  const filtered = [];
  for await (const r of client().vectorStores.search(store.id, {
    query: 'what do cafes pay for concentrate?',
    filters: { type: 'eq', key: 'region', value: 'south' },
  })) filtered.push(r);
  assert.ok(filtered.length > 0);
  assert.ok(filtered.every((r) => r.file_id === south.id));
  const numeric = [];
  for await (const r of client().vectorStores.search(store.id, {
    query: ['loyalty stamps', 'cold brew'],
    filters: { type: 'and', filters: [{ type: 'gte', key: 'year', value: 2025 }, { type: 'ne', key: 'region', value: 'north' }] },
    max_num_results: 1,
  })) numeric.push(r);
  assert.equal(numeric.length, 1);
  assert.equal(numeric[0].file_id, south.id);

  const strict = [];
  for await (const r of client().vectorStores.search(store.id, {
    query: 'what do cafes pay for concentrate?', ranking_options: { score_threshold: 1 },
  })) strict.push(r);
  assert.ok(strict.length < results.length);

  await assert.rejects(
    client().vectorStores.search(store.id, { query: 'x', filters: { type: 'near', key: 'region', value: 1 } }),
    OpenAI.BadRequestError);

  const renamed = await client().vectorStores.update(store.id, { name: 'Harbour Roasters 2025' });
  assert.equal(renamed.name, 'Harbour Roasters 2025');
  const retagged = await client().vectorStores.files.update(north.id, {
    vector_store_id: store.id, attributes: { region: 'west', year: 2024 },
  });
  assert.deepEqual(retagged.attributes, { region: 'west', year: 2024 });
  const west = [];
  for await (const r of client().vectorStores.search(store.id, {
    query: 'cafes concentrate', filters: { type: 'eq', key: 'region', value: 'west' },
  })) west.push(r);
  assert.ok(west.length > 0 && west.every((r) => r.file_id === north.id));

  const listed = [];
  for await (const f of client().vectorStores.files.list(store.id)) listed.push(f.id);
  assert.deepEqual(listed.sort(), [north.id, south.id].sort());
  const removed = await client().vectorStores.files.delete(south.id, { vector_store_id: store.id });
  assert.deepEqual(removed, { id: south.id, object: 'vector_store.file.deleted', deleted: true });
  const after = [];
  for await (const r of client().vectorStores.search(store.id, { query: 'loyalty stamps kraft paper card' })) after.push(r);
  assert.ok(after.every((r) => r.file_id !== south.id));

  // Deleting an uploaded file takes it out of the stores that held it.
  await client().files.delete(north.id);
  const emptied = await client().vectorStores.retrieve(store.id);
  assert.equal(emptied.file_counts.total, 0);

  const gone = await client().vectorStores.delete(store.id);
  assert.deepEqual(gone, { id: store.id, object: 'vector_store.deleted', deleted: true });
  await assert.rejects(client().vectorStores.retrieve(store.id), OpenAI.NotFoundError);
});

test('a file that cannot be read is a failed vector store file that says why', async () => {
  const broken = await upload('broken.pdf', 'this is not a pdf at all');
  const store = await client().vectorStores.create({ name: 'broken', file_ids: [broken.id] });
  assert.equal(store.file_counts.failed, 1);
  const file = await client().vectorStores.files.retrieve(broken.id, { vector_store_id: store.id });
  assert.equal(file.status, 'failed');
  assert.ok(file.last_error.message.length > 0);
  const failed = [];
  for await (const f of client().vectorStores.files.list(store.id, { filter: 'failed' })) failed.push(f.id);
  assert.deepEqual(failed, [broken.id]);
  await assert.rejects(client().vectorStores.create({ file_ids: ['file-doesnotexist'] }), OpenAI.NotFoundError);
  await client().vectorStores.delete(store.id);
});

test('a file batch uploads and adds several files at once, as uploadAndPoll does', async () => {
  const store = await client().vectorStores.create({ name: 'batch' });
  const batch = await client().vectorStores.fileBatches.uploadAndPoll(store.id, {
    files: [await toFile(Buffer.from(northGuide), 'north.md'), await toFile(Buffer.from(southGuide), 'south.md')],
  });
  assert.match(batch.id, /^vsfb_/);
  assert.equal(batch.object, 'vector_store.files_batch');
  assert.equal(batch.status, 'completed');
  assert.deepEqual(batch.file_counts, { in_progress: 0, completed: 2, failed: 0, cancelled: 0, total: 2 });
  const again = await client().vectorStores.fileBatches.retrieve(batch.id, { vector_store_id: store.id });
  assert.equal(again.file_counts.completed, 2);
  const names = [];
  for await (const f of client().vectorStores.fileBatches.listFiles(batch.id, { vector_store_id: store.id })) {
    names.push((await client().files.retrieve(f.id)).filename);
  }
  assert.deepEqual(names.sort(), ['north.md', 'south.md']);
  const tagged = await client().vectorStores.fileBatches.createAndPoll(store.id, {
    file_ids: [(await upload('extra.md', '# Extra\n\nHarbour tours at noon.')).id], attributes: { kind: 'extra' },
  });
  assert.equal(tagged.file_counts.completed, 1);
  await assert.rejects(client().vectorStores.fileBatches.create(store.id, { file_ids: [] }), OpenAI.BadRequestError);
  await assert.rejects(client().vectorStores.fileBatches.create(store.id, { file_ids: ['file-nope'] }),
    OpenAI.NotFoundError);
  await assert.rejects(client().vectorStores.fileBatches.retrieve('vsfb_nope', { vector_store_id: store.id }),
    OpenAI.NotFoundError);
  await assert.rejects(client(otherKey).vectorStores.fileBatches.retrieve(batch.id, { vector_store_id: store.id }),
    OpenAI.NotFoundError);
  await client().vectorStores.delete(store.id);
});

test('lists page with limit, after, before and order', async () => {
  const created = [];
  for (let i = 0; i < 3; i++) created.push((await client().vectorStores.create({ name: `page ${i}` })).id);
  const firstPage = await client().vectorStores.list({ limit: 2, order: 'asc' });
  assert.equal(firstPage.data.length, 2);
  assert.equal(firstPage.has_more, true);
  const all = [];
  for await (const s of client().vectorStores.list({ limit: 2, order: 'asc' })) all.push(s.id);
  const mine = all.filter((id) => created.includes(id));
  assert.deepEqual(mine, created);
  const newest = await client().vectorStores.list({ limit: 1 });
  assert.equal(newest.data[0].id, created[2]);
  const before = await client().vectorStores.list({ order: 'asc', before: created[2], limit: 100 });
  assert.ok(!before.data.some((s) => s.id === created[2]));
  await assert.rejects(client().vectorStores.list({ order: 'sideways' }), OpenAI.BadRequestError);
  for (const id of created) await client().vectorStores.delete(id);
});

test("another user can reach none of a user's files or stores", async () => {
  const file = await upload('south.md', southGuide);
  const store = await client().vectorStores.create({ name: 'private', file_ids: [file.id] });
  const other = client(otherKey);
  await assert.rejects(other.files.retrieve(file.id), OpenAI.NotFoundError);
  await assert.rejects(other.files.content(file.id), OpenAI.NotFoundError);
  await assert.rejects(other.files.delete(file.id), OpenAI.NotFoundError);
  await assert.rejects(other.vectorStores.retrieve(store.id), OpenAI.NotFoundError);
  await assert.rejects(other.vectorStores.update(store.id, { name: 'mine now' }), OpenAI.NotFoundError);
  await assert.rejects(other.vectorStores.delete(store.id), OpenAI.NotFoundError);
  await assert.rejects(other.vectorStores.files.list(store.id).then((p) => p.data), OpenAI.NotFoundError);
  await assert.rejects(other.vectorStores.files.retrieve(file.id, { vector_store_id: store.id }), OpenAI.NotFoundError);
  await assert.rejects(other.vectorStores.search(store.id, { query: 'loyalty' }).then((p) => p.data), OpenAI.NotFoundError);
  await assert.rejects(other.vectorStores.files.create(store.id, { file_id: file.id }), OpenAI.NotFoundError);
  const theirStore = await other.vectorStores.create({ name: 'theirs' });
  await assert.rejects(other.vectorStores.files.create(theirStore.id, { file_id: file.id }), OpenAI.NotFoundError);
  const theirFiles = [];
  for await (const f of other.files.list()) theirFiles.push(f.id);
  assert.ok(!theirFiles.includes(file.id));
  await other.vectorStores.delete(theirStore.id);
  await assert.rejects(new OpenAI({ baseURL, apiKey: 'bck_not-a-key', maxRetries: 0 }).files.list().then((p) => p.data),
    OpenAI.AuthenticationError);
  await client().vectorStores.delete(store.id);
  await client().files.delete(file.id);
});

// Drives tiergate with the official openai npm client, the way an app does.
// Env: OPENAI_BASE_URL (the gateway), CHAT_MODEL, EMBED_MODEL (empty skips
// embeddings), EXPECT_CONTENT, EXPECT_TOOL_ARGS (JSON), CHECKS (comma list:
// chat,stream,tools,embeddings,errors,auth,retry; auth reads BAD_KEYS, a JSON
// list of keys the gateway must refuse; retry needs a key with max_concurrent 1
// and an upstream slow to answer). Prints one JSON line of what it saw and
// exits non-zero when an assertion fails.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { client, model, expectContent, expectArgs, checksOr } from './common.mjs';

const expectFinish = process.env.EXPECT_FINISH || 'stop';
const maxTokens = process.env.MAX_TOKENS ? { max_tokens: Number(process.env.MAX_TOKENS) } : {};
const checks = checksOr('chat,stream,tools,embeddings');
const seen = {};

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['location'] },
  },
}];

if (checks.includes('chat')) {
  const r = await client.chat.completions.create({ model, ...maxTokens, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }] });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  if (expectContent) assert.equal(r.choices[0].message.content, expectContent);
  assert.ok(r.choices[0].message.content.length > 0, 'empty content');
  assert.equal(r.choices[0].finish_reason, expectFinish);
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0, 'usage missing');
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  seen.chat = { content: r.choices[0].message.content, usage: r.usage };
}

if (checks.includes('stream')) {
  const s = await client.chat.completions.create({ model, ...maxTokens, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Say hello' }] });
  let text = '', finish = null, usage = null, chunks = 0, role = null;
  for await (const c of s) {
    chunks++;
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      if (ch.delta.role) role = ch.delta.role;
      text += ch.delta.content || '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(role, 'assistant');
  if (expectContent) assert.equal(text, expectContent);
  assert.ok(text.length > 0);
  assert.equal(finish, expectFinish);
  assert.ok(usage && usage.completion_tokens > 0, 'no usage chunk although include_usage was asked');
  // Without include_usage the client must not get a usage chunk.
  const s2 = await client.chat.completions.create({ model, ...maxTokens, stream: true, messages: [{ role: 'user', content: 'Say hello' }] });
  let usage2 = null;
  for await (const c of s2) if (c.usage) usage2 = c.usage;
  assert.equal(usage2, null, 'usage chunk sent although the client did not ask');
  seen.stream = { content: text, chunks, usage };
}

if (checks.includes('tools')) {
  const s = await client.chat.completions.create({ model, stream: true, tools, tool_choice: 'auto', messages: [{ role: 'user', content: 'Weather in Paris?' }] });
  const calls = {}; let finish = null;
  for await (const c of s) {
    for (const ch of c.choices) {
      for (const tc of ch.delta.tool_calls || []) {
        const cur = calls[tc.index] ||= { id: '', name: '', arguments: '' };
        if (tc.id) cur.id = tc.id;
        if (tc.function?.name) cur.name += tc.function.name;
        if (tc.function?.arguments) cur.arguments += tc.function.arguments;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  const call = calls[0];
  assert.ok(call, 'no tool call');
  assert.equal(call.name, 'get_weather');
  assert.ok(call.id.length > 0, 'tool call has no id');
  const args = JSON.parse(call.arguments);
  if (expectArgs) assert.deepEqual(args, expectArgs);
  assert.equal(finish, 'tool_calls');
  // The helper that accumulates a stream must agree.
  const runner = client.chat.completions.stream({ model, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(final.choices[0].message.tool_calls[0].function.arguments), args);
  seen.tools = { call, finish };
}

if (checks.includes('embeddings') && process.env.EMBED_MODEL) {
  // The client asks for base64 by default and decodes it.
  const e = await client.embeddings.create({ model: process.env.EMBED_MODEL, input: ['hello world', 'goodbye'] });
  assert.equal(e.data.length, 2);
  assert.ok(e.data[0].embedding.length > 0 && typeof e.data[0].embedding[0] === 'number');
  assert.notDeepEqual(e.data[0].embedding, e.data[1].embedding);
  const f = await client.embeddings.create({ model: process.env.EMBED_MODEL, input: 'hello world', encoding_format: 'float' });
  assert.deepEqual(f.data[0].embedding.map((x) => Math.fround(x)), e.data[0].embedding.map((x) => Math.fround(x)));
  seen.embeddings = { dims: e.data[0].embedding.length };
}

if (checks.includes('errors')) {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof OpenAI.NotFoundError && /v1\/models/.test(err.message));
  await assert.rejects(client.chat.completions.create({ model, messages: [] }), (err) => err instanceof OpenAI.BadRequestError);
  seen.errors = true;
}

if (checks.includes('auth')) {
  // Each of BAD_KEYS (JSON list: none, wrong, revoked...) is refused with
  // 401 invalid_api_key, which the client raises as AuthenticationError.
  const bad = JSON.parse(process.env.BAD_KEYS || '[]');
  for (const apiKey of bad) {
    // The SDK will not start without a key: "" sends none at all, by
    // dropping the header on the way out.
    const noKey = { apiKey: 'x', fetch: (url, init) => { const h = new Headers(init.headers); h.delete('authorization'); return fetch(url, { ...init, headers: h }); } };
    const c = new OpenAI({ apiKey, ...(apiKey === '' ? noKey : {}), maxRetries: 0, timeout: 20000 });
    await assert.rejects(c.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.AuthenticationError && err.status === 401 && err.code === 'invalid_api_key',
      `key #${bad.indexOf(apiKey)} was not refused with AuthenticationError`);
    await assert.rejects(c.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.AuthenticationError);
  }
  seen.auth = { refused: bad.length };
}

if (checks.includes('retry')) {
  // The key admits one request at a time (max_concurrent: 1) and the
  // upstream holds each answer for a while: a second request is refused
  // with 429 and Retry-After: 1 while the first is in flight. The SDK's
  // own retry must wait what Retry-After says (its default backoff is
  // about half a second) and then succeed.
  const attempts = [];
  const timed = { fetch: async (url, init) => { const r = await fetch(url, init); attempts.push({ at: Date.now(), status: r.status, retryAfter: r.headers.get('retry-after'), limit: r.headers.get('x-ratelimit-limit-requests') }); return r; } };
  const c = new OpenAI({ apiKey: process.env.OPENAI_API_KEY, maxRetries: 4, timeout: 20000, ...timed });
  const first = client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello' }] });
  await new Promise((r) => setTimeout(r, 300));
  const r = await c.chat.completions.create({ model, messages: [{ role: 'user', content: 'Say hello' }] });
  await first;
  assert.equal(r.object, 'chat.completion');
  const refused = attempts.filter((a) => a.status === 429);
  assert.ok(refused.length >= 1, `no request was refused: ${JSON.stringify(attempts)}`);
  assert.equal(attempts.at(-1).status, 200);
  for (let i = 0; i + 1 < attempts.length; i++) {
    if (attempts[i].status !== 429) continue;
    assert.equal(attempts[i].retryAfter, '1');
    const waited = attempts[i + 1].at - attempts[i].at;
    assert.ok(waited >= 950, `the SDK retried ${waited} ms after a 429 with Retry-After: 1`);
  }
  seen.retry = { attempts: attempts.length, refused: refused.length };
}

console.log(JSON.stringify(seen));

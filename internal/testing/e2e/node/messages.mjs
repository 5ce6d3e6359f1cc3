// Drives tiergate's POST /v1/messages with the official @anthropic-ai/sdk
// client, the way Claude Code and other Anthropic apps do.
// Env: ANTHROPIC_BASE_URL (the gateway's root), MODEL, EXPECT_CONTENT,
// EXPECT_TOOL_ARGS (JSON), EXPECT_STOP (default end_turn), MAX_TOKENS,
// EXPECT_THINKING (the thinking text an Anthropic backend sends back;
// empty: the backend does not think), CHECKS (comma list:
// create,stream,tools,thinking,count,errors). Prints one JSON line of what
// it saw and exits non-zero when an assertion fails.
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ apiKey: process.env.GATEWAY_KEY || 'unused', maxRetries: 0, timeout: 20000 });
const model = process.env.MODEL;
const expectContent = process.env.EXPECT_CONTENT;
const expectArgs = process.env.EXPECT_TOOL_ARGS ? JSON.parse(process.env.EXPECT_TOOL_ARGS) : null;
const expectStop = process.env.EXPECT_STOP || 'end_turn';
const expectThinking = process.env.EXPECT_THINKING || '';
const maxTokens = Number(process.env.MAX_TOKENS || 256);
const checks = (process.env.CHECKS || 'create,stream,tools').split(',');
const seen = {};

const tools = [{
  name: 'get_weather',
  description: 'Current weather in a city',
  input_schema: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['location'] },
}];
const hello = [{ role: 'user', content: 'Say hello' }];
const textOf = (m) => m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

if (checks.includes('create')) {
  const m = await client.messages.create({ model, max_tokens: maxTokens, system: 'Be brief.', messages: hello });
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.match(m.id, /^msg_/);
  if (expectContent) assert.equal(textOf(m), expectContent);
  assert.ok(textOf(m).length > 0, 'empty text');
  assert.equal(m.stop_reason, expectStop);
  assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0, 'usage missing');
  seen.create = { text: textOf(m), usage: m.usage, stop: m.stop_reason };
}

if (checks.includes('stream')) {
  // The SDK's stream helper: it accumulates the events into a Message.
  const s = client.messages.stream({ model, max_tokens: maxTokens, messages: hello });
  let text = '';
  s.on('text', (t) => { text += t; });
  const m = await s.finalMessage();
  if (expectContent) assert.equal(text, expectContent);
  assert.ok(text.length > 0);
  assert.equal(textOf(m), text);
  assert.equal(m.stop_reason, expectStop);
  assert.ok(m.usage.output_tokens > 0, 'no output_tokens in message_delta');
  // The raw events, as stream: true gives them.
  const raw = await client.messages.create({ model, max_tokens: maxTokens, stream: true, messages: hello });
  const types = [];
  for await (const ev of raw) if (ev.type !== 'ping') types.push(ev.type);
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-2), 'message_delta');
  assert.equal(types.at(-1), 'message_stop');
  assert.ok(types.includes('content_block_delta'));
  seen.stream = { text, events: types.length, usage: m.usage };
}

if (checks.includes('tools')) {
  const m = await client.messages.create({ model, max_tokens: maxTokens, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
  assert.equal(m.stop_reason, 'tool_use');
  const call = m.content.find((b) => b.type === 'tool_use');
  assert.ok(call && call.id && call.name === 'get_weather', 'no tool_use block');
  if (expectArgs) assert.deepEqual(call.input, expectArgs);
  // Streamed: the SDK assembles input_json_delta pieces into the input.
  const s = await client.messages.stream({ model, max_tokens: maxTokens, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] }).finalMessage();
  const scall = s.content.find((b) => b.type === 'tool_use');
  assert.ok(scall, 'no streamed tool_use block');
  if (expectArgs) assert.deepEqual(scall.input, expectArgs);
  // The round trip: the result goes back with the call; no tool this time.
  const r = await client.messages.create({
    model, max_tokens: maxTokens, tools, tool_choice: { type: 'none' },
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: m.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '18C and sunny' }] },
    ],
  });
  assert.equal(r.stop_reason, 'end_turn');
  if (expectContent) assert.equal(textOf(r), expectContent);
  seen.tools = { input: call.input, streamed: scall.input, after: textOf(r) };
}

if (checks.includes('thinking')) {
  const req = { model, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: hello };
  const m = await client.messages.create(req);
  const th = m.content.find((b) => b.type === 'thinking');
  if (expectThinking) assert.equal(th && th.thinking, expectThinking);
  else assert.equal(th, undefined);
  assert.ok(textOf(m).length > 0);
  const s = client.messages.stream(req);
  let thinking = '';
  s.on('thinking', (t) => { thinking += t; });
  const sm = await s.finalMessage();
  assert.equal(thinking, expectThinking);
  assert.ok(textOf(sm).length > 0);
  // The thinking goes back in the history, as the API asks.
  const again = await client.messages.create({ ...req, messages: [...hello, { role: 'assistant', content: m.content }, { role: 'user', content: 'And again' }] });
  assert.ok(textOf(again).length > 0);
  seen.thinking = { thinking, text: textOf(sm) };
}

if (checks.includes('count')) {
  const c = await client.messages.countTokens({ model, system: 'Be brief.', messages: hello });
  assert.ok(c.input_tokens > 0);
  seen.count = c;
}

if (checks.includes('errors')) {
  try {
    await client.messages.create({ model: 'no-such-model-xyz', max_tokens: 16, messages: hello });
    assert.fail('an unknown model was accepted');
  } catch (e) {
    assert.ok(e instanceof Anthropic.NotFoundError, `not a NotFoundError: ${e}`);
    assert.equal(e.status, 404);
    assert.equal(e.error.type, 'error');
    assert.equal(e.error.error.type, 'not_found_error');
  }
  try {
    await client.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }] }] });
    assert.fail('a bad image was accepted');
  } catch (e) {
    assert.ok(e instanceof Anthropic.BadRequestError, `not a BadRequestError: ${e}`);
    assert.equal(e.error.error.type, 'invalid_request_error');
  }
  seen.errors = true;
}

console.log(JSON.stringify(seen));

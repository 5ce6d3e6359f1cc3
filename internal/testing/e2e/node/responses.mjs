// Drives tiergate's /v1/responses with the official openai npm client's
// Responses API, the way an app does. Env: OPENAI_BASE_URL (the gateway),
// CHAT_MODEL, EXPECT_CONTENT, EXPECT_TOOL_ARGS (JSON), MAX_OUTPUT_TOKENS,
// EXPECT_STATUS (completed unless set), CHECKS (comma list:
// create,stream,tools,errors). Prints one JSON line of what it saw and
// exits non-zero when an assertion fails.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { client, model, expectContent, expectArgs, checksOr } from './common.mjs';

const expectStatus = process.env.EXPECT_STATUS || 'completed';
const limit = process.env.MAX_OUTPUT_TOKENS ? { max_output_tokens: Number(process.env.MAX_OUTPUT_TOKENS) } : {};
const checks = checksOr('create,stream,tools,errors');
const seen = {};

const tools = [{
  type: 'function',
  name: 'get_weather',
  description: 'Current weather in a city',
  parameters: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['location'] },
  strict: false,
}];

function checkUsage(u) {
  assert.ok(u && u.input_tokens > 0 && u.output_tokens > 0, `usage missing: ${JSON.stringify(u)}`);
  assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);
}

if (checks.includes('create')) {
  const r = await client.responses.create({ model, ...limit, instructions: 'Be brief.', input: 'Say hello', store: false });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.status, expectStatus);
  if (expectContent) assert.equal(r.output_text, expectContent);
  assert.ok(r.output_text.length > 0, 'empty output_text');
  const msg = r.output.find((o) => o.type === 'message');
  assert.equal(msg.role, 'assistant');
  assert.equal(msg.content[0].type, 'output_text');
  checkUsage(r.usage);
  seen.create = { output_text: r.output_text, usage: r.usage, status: r.status };
}

if (checks.includes('stream')) {
  // The raw events, as an app iterating the stream sees them.
  const s = await client.responses.create({ model, ...limit, input: [{ role: 'user', content: [{ type: 'input_text', text: 'Say hello' }] }], stream: true });
  let text = '', last = null, seq = -1;
  const types = [];
  for await (const ev of s) {
    assert.equal(ev.sequence_number, seq + 1, `sequence_number ${ev.sequence_number} after ${seq}`);
    seq = ev.sequence_number;
    if (types[types.length - 1] !== ev.type) types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    last = ev;
  }
  assert.equal(types[0], 'response.created');
  assert.ok(types.includes('response.output_text.delta'), `no text deltas: ${types}`);
  assert.equal(last.type, expectStatus === 'completed' ? 'response.completed' : 'response.incomplete');
  assert.equal(last.response.status, expectStatus);
  if (expectContent) assert.equal(text, expectContent);
  assert.ok(text.length > 0);
  checkUsage(last.response.usage);
  // The helper that accumulates the events must agree.
  const helper = client.responses.stream({ model, ...limit, input: 'Say hello' });
  let deltas = '';
  helper.on('response.output_text.delta', (e) => { deltas += e.delta; });
  const final = await helper.finalResponse();
  assert.equal(final.output_text, deltas);
  if (expectContent) assert.equal(final.output_text, expectContent);
  assert.equal(final.status, expectStatus);
  seen.stream = { output_text: text, events: types, usage: last.response.usage };
}

if (checks.includes('tools')) {
  // A function-call round trip: the model calls the tool; the app runs it
  // and sends the whole conversation back (the gateway is stateless).
  const input = [{ role: 'user', content: 'Weather in Paris?' }];
  const r = await client.responses.create({ model, tools, input });
  const call = r.output.find((o) => o.type === 'function_call');
  assert.ok(call, `no function_call in ${JSON.stringify(r.output)}`);
  assert.equal(call.name, 'get_weather');
  assert.ok(call.call_id.length > 0, 'function_call has no call_id');
  const args = JSON.parse(call.arguments);
  if (expectArgs) assert.deepEqual(args, expectArgs);
  // Streamed, the call arrives as argument deltas.
  const s = client.responses.stream({ model, tools, input });
  let streamedArgs = '';
  s.on('response.function_call_arguments.delta', (e) => { streamedArgs += e.delta; });
  const sf = await s.finalResponse();
  const scall = sf.output.find((o) => o.type === 'function_call');
  assert.deepEqual(JSON.parse(scall.arguments), args);
  assert.deepEqual(JSON.parse(streamedArgs), args);
  // The second turn: the call and its output in input.
  const r2 = await client.responses.create({
    model, tools, tool_choice: 'none',
    input: [...input, ...r.output, { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temperature: 14, unit: 'celsius' }) }],
  });
  assert.equal(r2.status, 'completed');
  if (expectContent) assert.equal(r2.output_text, expectContent);
  assert.ok(r2.output_text.length > 0, 'no answer after the function output');
  seen.tools = { call: { name: call.name, call_id: call.call_id, arguments: args }, answer: r2.output_text };
}

if (checks.includes('errors')) {
  await assert.rejects(client.responses.create({ model, input: 'more', previous_response_id: 'resp_123' }),
    (err) => err instanceof OpenAI.BadRequestError && /stateless/.test(err.message));
  await assert.rejects(client.responses.create({ model, input: 'x', tools: [{ type: 'web_search' }] }),
    (err) => err instanceof OpenAI.BadRequestError && /web_search/.test(err.message));
  await assert.rejects(client.responses.retrieve('resp_123'), (err) => err instanceof OpenAI.NotFoundError);
  await assert.rejects(client.responses.create({ model: 'no-such-model', input: 'x' }), (err) => err instanceof OpenAI.NotFoundError);
  seen.errors = true;
}

console.log(JSON.stringify(seen));

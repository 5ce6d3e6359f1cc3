// Drives tiergate's audio endpoints with the official openai npm client:
// client.audio.transcriptions.create (verbose_json and text) on AUDIO_FILE
// with STT_MODEL, and client.audio.speech.create with TTS_MODEL.
// Env: OPENAI_BASE_URL (the gateway), AUDIO_FILE (a WAV), STT_MODEL,
// TTS_MODEL, EXPECT_TRANSCRIPT. Prints one JSON line of what it saw and
// exits non-zero when an assertion fails.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { client } from './common.mjs';

const file = process.env.AUDIO_FILE;
const expect = process.env.EXPECT_TRANSCRIPT;
const seen = {};

const v = await client.audio.transcriptions.create({
  file: fs.createReadStream(file), model: process.env.STT_MODEL, language: 'en',
  response_format: 'verbose_json', timestamp_granularities: ['word'],
});
assert.equal(v.text, expect);
assert.ok(v.duration > 0, 'no duration');
assert.ok(Array.isArray(v.words) && v.words.length > 0, 'no words');
seen.transcription = { text: v.text, duration: v.duration, words: v.words.length };

const text = await client.audio.transcriptions.create({ file: fs.createReadStream(file), model: process.env.STT_MODEL, response_format: 'text' });
assert.equal(String(text).trim(), expect);
seen.text = String(text);

const sp = await client.audio.speech.create({ model: process.env.TTS_MODEL, voice: 'alloy', input: 'Hello from the npm client.', response_format: 'wav' });
const audio = Buffer.from(await sp.arrayBuffer());
assert.equal(audio.subarray(0, 4).toString('latin1'), 'RIFF');
seen.speech = { bytes: audio.length, contentType: sp.headers.get('content-type') };

console.log(JSON.stringify(seen));

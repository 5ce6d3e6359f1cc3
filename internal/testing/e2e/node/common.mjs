// What the scripts here share: the official openai client as an app makes
// it (the gateway at OPENAI_BASE_URL; no retries of its own), and the env
// every script's checks read: CHAT_MODEL, EXPECT_CONTENT, EXPECT_TOOL_ARGS
// (JSON) and CHECKS (a comma list).
import OpenAI from 'openai';

export const client = new OpenAI({ apiKey: process.env.OPENAI_API_KEY || 'unused', maxRetries: 0, timeout: 20000 });
export const model = process.env.CHAT_MODEL;
export const expectContent = process.env.EXPECT_CONTENT;
export const expectArgs = process.env.EXPECT_TOOL_ARGS ? JSON.parse(process.env.EXPECT_TOOL_ARGS) : null;

// checksOr is CHECKS as a list, or defaults (a comma list) when it is unset.
export function checksOr(defaults) {
  return (process.env.CHECKS || defaults).split(',');
}

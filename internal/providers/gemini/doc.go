// Package gemini is the providers.Provider for the Gemini API (Google AI,
// generativelanguage.googleapis.com, v1beta), built on Google's official Go
// SDK (google.golang.org/genai). It translates OpenAI chat and embeddings
// requests to generateContent / streamGenerateContent?alt=sse /
// batchEmbedContents, and Gemini's answers back to OpenAI JSON and
// chat.completion.chunk payloads.
//
// It imports only the providers contract, openaiwire and the SDK; it must not import
// the gateway, the router, another adapter or an emulator.
//
// # Retries
//
// The SDK makes exactly one attempt per call: HTTPOptions.RetryOptions is
// set to a single attempt, and GenerateContentConfig.AutomaticContinuation
// is turned off on every request (left on, the SDK would re-send a stream
// that ended without a finish reason, and hide the cut). The router retries.
//
// # Credentials
//
// The key travels only in the x-goog-api-key header (never in a URL). It
// is scrubbed from every upstream message, because Google's error details
// can echo it; authentication failures name Options.KeyEnv instead.
//
// # Chat request parameters
//
// Every OpenAI chat completion parameter and what the adapter does with it
// is listed by Parameters (and tested against the translator). In short:
// sampling parameters map to generationConfig; tools to
// functionDeclarations with parametersJsonSchema; response_format to
// responseMimeType and responseJsonSchema; reasoning_effort to a thinking
// budget; parameters Gemini cannot honour (logit_bias, logprobs,
// top_logprobs, audio output, prediction, web_search_options, verbosity)
// are refused with a 400 naming the parameter; bookkeeping parameters with
// no effect on generation (user, metadata, store, service_tier, ...) are
// ignored, as are unknown ones.
//
// # Messages
//
// system and developer messages become systemInstruction (wherever they
// appear); user → user; assistant → model (tool_calls → functionCall parts,
// with extra_content.google.thought_signature restored as the part's
// thoughtSignature); tool (and the deprecated function) messages →
// functionResponse parts of a user turn, the function name looked up from
// the preceding assistant message's tool call with that id, the response
// being the tool output if it is a JSON object and {"result": output}
// otherwise. Adjacent turns of one role are merged. Images: data: URLs
// become inlineData; http(s) and gs URLs become fileData with fileUri (Gemini
// fetches Files API URIs; arbitrary public URLs only where Google supports
// fetching them, so a data: URL is the portable choice), the MIME type
// guessed from the extension. input_audio becomes inlineData audio/<format>;
// file parts with file_data become inlineData (file_id is refused).
//
// # Responses
//
// Text parts are joined into message.content; thought parts (returned when
// reasoning_effort asks for thinking) go to reasoning_content; function
// calls become tool_calls (the part's id, or call_<random>; arguments as a
// JSON string; thought signature in extra_content.google) and force
// finish_reason "tool_calls". Finish reasons: STOP → stop, MAX_TOKENS →
// length, SAFETY / RECITATION / BLOCKLIST / PROHIBITED_CONTENT / SPII /
// IMAGE_SAFETY / LANGUAGE / OTHER and the other blocking reasons →
// content_filter, a blocked prompt (promptFeedback.blockReason) →
// content_filter; MALFORMED_FUNCTION_CALL and unknown reasons → stop.
// Usage: prompt = promptTokenCount (+ toolUsePromptTokenCount), of which
// cachedContentTokenCount are cached; completion = candidatesTokenCount +
// thoughtsTokenCount, of which the thoughts are reasoning tokens.
//
// Streams: the first delta of each choice carries role "assistant", text
// arrives as content deltas, each function call as two tool-call chunks
// (index, id, type and name; then the whole arguments), finish_reason comes
// in a last chunk per choice once Gemini's stream has ended, then a usage
// chunk when stream_options.include_usage is set. A stream that ends
// without a finishReason, or carries Google's error object, returns a
// *providers.Error after the chunks already delivered.
package gemini

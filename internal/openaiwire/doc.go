// Package openaiwire holds OpenAI's wire format: the one declaration of
// the chat, embeddings and error shapes that the gateway and every adapter
// read and write.
//
// It has two layers. The byte level (ParseChat, ParseEmbed, Rewrite)
// inspects and rewrites request bodies so the gateway learns what it must
// know about a request (model, stream, stream_options, images, tools) and
// changes only what it must (the model name, stream_options, the gateway's
// own "route" object), preserving every other field byte for byte. The
// typed level (ChatRequest, ChatCompletion, ChatCompletionChunk,
// EmbeddingList, ErrorBody, ...) is what translating adapters decode
// into and encode from; Marshal writes it without HTML escaping, as
// OpenAI does. Redactor scrubs a secret (a provider key) from anything
// that leaves the gateway.
//
// ParseChat reads a chat body in one pass over its bytes without decoding
// string content: a data URL or a long prompt is scanned (validated, its
// length counted) and never copied. Its results are those of decoding the
// body with encoding/json into the fields it needs (wire_ref_test.go keeps
// that implementation as the reference a differential fuzz test holds it
// to): the same key matching (case-insensitive), the same handling of
// null, duplicate keys and types, the same errors.
//
// The meaning of nil is settled once for every type here:
//   - A pointer or json.RawMessage field in a request means "absent" when
//     nil: a client that sent "temperature": 0 gives a non-nil pointer to
//     0, one that sent nothing gives nil. A field that arrived as JSON
//     null is nil too (use IsNull on raw values).
//   - In a response, fields OpenAI always writes (message.content,
//     message.refusal, choice.logprobs, choice.finish_reason) are written
//     as null when nil; every other pointer, slice or raw field tagged
//     omitempty is left out when nil.
//
// It imports only the standard library.
package openaiwire

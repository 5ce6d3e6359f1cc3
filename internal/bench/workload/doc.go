// Package workload holds what cmd/bench sends, and when: the benchmark's
// workloads, apart from the engine that measures them (internal/bench).
//
// It holds
//   - length distributions (Dist: fixed, uniform, normal, lognormal,
//     exponential, each clamped and seeded, or lengths read from a file);
//   - dataset readers for the common chat formats (ReadDataset: ShareGPT's
//     {"conversations": [{"from", "value"}]} and OpenAI's chat JSONL
//     {"messages": [{"role", "content"}]}), read as a stream with errors
//     that name the line;
//   - a trace reader (ReadTrace): JSONL of requests with their times,
//     replayed at those times;
//   - synthetic prompt text (SyntheticText, PrefixText);
//   - Source, what the engine pulls requests from: conversations of one
//     or more turns (Session carries each turn's history, the model's
//     actual answers included), with shared prefixes, drawn lengths and
//     a fixed output length (min_tokens and ignore_eos), and for a trace
//     the send time of each request (Timed);
//   - Gamma, bursty open-loop arrivals (gamma-distributed gaps, a
//     burstiness of 1 being Poisson).
//
// Everything random is seeded, and a request's draw depends on its seed
// and number only, so a run repeats whatever order workers take requests
// in.
//
// It imports only the standard library and internal/openaiwire (the one
// declaration of OpenAI's message shape). It must not import the engine
// (internal/bench), the gateway, the router or the provider adapters:
// the engine imports it.
package workload

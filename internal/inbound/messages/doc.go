package messages

// What each Messages request field becomes. An Anthropic backend (an
// adapter that speaks the API, providers.Native) gets the client's body
// byte for byte but for "model"; every other backend (OpenAI-compatible,
// Gemini, Ollama) gets the chat completion request ToChat writes:
//
//	field                    translated for a chat backend
//	model                    model, resolved by Options.Model (the gateway: a catalog id or
//	                         upstream name, dated/-latest suffix dropped, else router.aliases)
//	max_tokens               max_tokens (required, >= 1)
//	system                   a system message (string, or text blocks joined by a blank line;
//	                         cache_control ignored)
//	messages[].content text  text (a lone text is a string content)
//	  image base64 / url     image_url: a data: URL / the URL (a file source: Anthropic only)
//	  tool_use               assistant tool_calls (input -> JSON arguments)
//	  tool_result            a tool message right after the call: its text (blocks joined by a
//	                         newline), "Error: " first when is_error; its images go in a user
//	                         message after the tool messages
//	  thinking, redacted_    dropped: chat completions take no reasoning as input
//	  thinking
//	  document, search_      only an Anthropic backend (see below)
//	  result, server tools
//	stop_sequences           stop
//	stream                   stream, with stream_options.include_usage
//	temperature, top_p       temperature, top_p (a backend that drops them names them in
//	                         X-Tiergate-Dropped, as for chat)
//	top_k                    dropped (chat has none)
//	metadata.user_id         user
//	tools (custom)           function tools: input_schema -> parameters
//	tools (Anthropic's own:  only an Anthropic backend (see below)
//	  bash, web_search, ...)
//	tool_choice              auto -> auto, any -> required, tool -> the function, none -> none;
//	                         disable_parallel_tool_use -> parallel_tool_calls: false
//	thinking                 dropped (the backend reasons as it does; reasoning it reports
//	                         comes back as thinking blocks)
//	service_tier             dropped
//	mcp_servers, container   only an Anthropic backend (see below)
//	(unknown members)        ignored
//
// A request with a field only Anthropic serves is an inbound.NativeOnly:
// the gateway routes it by the rest and keeps only the candidates that
// speak the Messages API; with none, the client gets the 400 naming the
// first such field (a fallback the router adds after an Anthropic
// failure is not called, and the 400 says how Anthropic failed).
//
// Back: content is thinking (from reasoning_content), text, then tool_use
// blocks (input as an object); stop_reason is end_turn, max_tokens,
// tool_use or refusal (a chat completion does not say which stop sequence
// matched: stop_sequence is always null); usage is input_tokens (without
// the cached part), cache_read_input_tokens and output_tokens. A stream's
// input tokens are known only at its end, so message_start reports 0 and
// message_delta the counts. No ping events are sent.

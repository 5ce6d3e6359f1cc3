package geminiemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// --- Google error bodies -------------------------------------------------

type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

type errorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

type localizedMessage struct {
	Type    string `json:"@type"`
	Locale  string `json:"locale"`
	Message string `json:"message"`
}

type retryInfo struct {
	Type       string `json:"@type"`
	RetryDelay string `json:"retryDelay"`
}

type badRequest struct {
	Type            string           `json:"@type"`
	FieldViolations []fieldViolation `json:"fieldViolations"`
}

type fieldViolation struct {
	Field       string `json:"field,omitempty"`
	Description string `json:"description"`
}

// googleStatus is the canonical google.rpc.Code name for an HTTP status.
func googleStatus(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 412:
		return "FAILED_PRECONDITION"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 500:
		return "INTERNAL"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return "UNKNOWN"
}

// defaultMessage is the message the real API usually gives for a status.
func defaultMessage(code int) string {
	switch code {
	case 400:
		return "Request contains an invalid argument."
	case 401:
		return "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."
	case 403:
		return "The caller does not have permission"
	case 404:
		return "Requested entity was not found."
	case 429:
		return "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
	case 500:
		return "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
	case 503:
		return "The model is overloaded. Please try again later."
	case 504:
		return "Deadline expired before operation could complete."
	}
	return http.StatusText(code)
}

// errorJSON renders Google's error body, pretty-printed as the real API
// sends it.
func errorJSON(code int, msg string, details []any) []byte {
	b, _ := marshalIndent(apiError{Error: apiErrorBody{Code: code, Message: msg, Status: googleStatus(code), Details: details}})
	return append(b, '\n')
}

func writeError(w http.ResponseWriter, code int, msg string, details []any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Vary", "Origin, X-Origin, Referer")
	w.WriteHeader(code)
	w.Write(errorJSON(code, msg, details))
}

func writeBadRequest(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, msg, nil)
}

// writeFault sends Google's error body for a fault's status, with a
// RetryInfo detail when RetryAfter is a number of seconds.
func writeFault(w http.ResponseWriter, f Fault) {
	msg := f.MessageOr(defaultMessage(f.Status))
	var details []any
	if secs, err := strconv.ParseFloat(f.RetryAfter, 64); err == nil && secs >= 0 {
		details = append(details, retryInfo{Type: "type.googleapis.com/google.rpc.RetryInfo",
			RetryDelay: strconv.FormatFloat(secs, 'f', -1, 64) + "s"})
	}
	writeError(w, f.Status, msg, details)
}

func writeNotFoundPath(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("Method not found: %s %s", r.Method, r.URL.Path), nil)
}

func modelNotFound(w http.ResponseWriter, model, method string) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("models/%s is not found for API version v1beta, or is not supported for %s. Call ListModels to see the list of available models and their supported methods.", model, method), nil)
}

// --- JSON formatting -----------------------------------------------------

// encode writes v as JSON without HTML escaping, as Google does, each
// level indented by indent ("": on one line), with no final newline.
func encode(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// marshalIndent renders a unary answer the way the real API does.
func marshalIndent(v any) ([]byte, error) { return encode(v, "  ") }

// marshalSSE renders v on one line the way the real API writes stream
// events: a space after each colon, none after commas, e.g.
// {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}]}.
func marshalSSE(v any) ([]byte, error) {
	src, err := encode(v, "")
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(src)+len(src)/8)
	inString, escaped := false, false
	for _, c := range src {
		out = append(out, c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ':':
			out = append(out, ' ')
		}
	}
	return out, nil
}

// --- request decoding ----------------------------------------------------

// freeform names fields whose values are arbitrary JSON (Struct, Value or
// Schema maps with user-chosen keys), whose keys must not be renamed.
var freeformFields = map[string]bool{
	"args": true, "response": true, "parameters": true, "parametersJsonSchema": true,
	"responseSchema": true, "responseJsonSchema": true, "metadata": true,
}

// snakeToCamel renders a proto field name in lowerCamelCase (the JSON
// mapping accepts both spellings).
func snakeToCamel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func normalizeKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			ck := snakeToCamel(k)
			if freeformFields[ck] {
				out[ck] = val
			} else {
				out[ck] = normalizeKeys(val)
			}
		}
		return out
	case []any:
		for i := range t {
			t[i] = normalizeKeys(t[i])
		}
		return t
	}
	return v
}

// decodeStrict decodes body into v as the real API's JSON mapping does:
// snake_case or camelCase names, unknown names rejected. It returns the
// real API's message for a payload it cannot parse.
func decodeStrict(body []byte, v any) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return "Invalid JSON payload received. Unexpected token."
	}
	if dec.More() {
		return "Invalid JSON payload received. Unexpected token."
	}
	if _, ok := generic.(map[string]any); !ok {
		return "Invalid JSON payload received. Expected an object."
	}
	norm, _ := json.Marshal(normalizeKeys(generic))
	dec = json.NewDecoder(bytes.NewReader(norm))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return fmt.Sprintf("Invalid JSON payload received. Unknown name %s: Cannot find field.", name)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Sprintf("Invalid value at '%s' (%s), %s", te.Field, protoType(te.Type.String()), te.Value)
		}
		return "Invalid JSON payload received. " + strings.TrimPrefix(msg, "json: ")
	}
	return ""
}

func protoType(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "TYPE_INT32"
	case strings.Contains(goType, "float"):
		return "TYPE_FLOAT"
	case goType == "string":
		return "TYPE_STRING"
	case goType == "bool":
		return "TYPE_BOOL"
	case goType == "[]uint8":
		return "TYPE_BYTES"
	}
	return "TYPE_MESSAGE"
}

// --- GenerateContentRequest ----------------------------------------------

type genRequest struct {
	Model             string            `json:"model"`
	Contents          []content         `json:"contents"`
	SystemInstruction *content          `json:"systemInstruction"`
	Tools             []tool            `json:"tools"`
	ToolConfig        *toolConfig       `json:"toolConfig"`
	SafetySettings    []safetySetting   `json:"safetySettings"`
	GenerationConfig  *generationConfig `json:"generationConfig"`
	CachedContent     string            `json:"cachedContent"`
	ServiceTier       string            `json:"serviceTier"`
	Store             *bool             `json:"store"`
}

type content struct {
	Role  string `json:"role"`
	Parts []part `json:"parts"`
}

type part struct {
	Text                *string           `json:"text"`
	InlineData          *blob             `json:"inlineData"`
	FileData            *fileData         `json:"fileData"`
	FunctionCall        *functionCall     `json:"functionCall"`
	FunctionResponse    *functionResponse `json:"functionResponse"`
	ExecutableCode      json.RawMessage   `json:"executableCode"`
	CodeExecutionResult json.RawMessage   `json:"codeExecutionResult"`
	Thought             *bool             `json:"thought"`
	ThoughtSignature    *string           `json:"thoughtSignature"`
	VideoMetadata       json.RawMessage   `json:"videoMetadata"`
	MediaResolution     json.RawMessage   `json:"mediaResolution"`
}

type blob struct {
	MimeType string  `json:"mimeType"`
	Data     *string `json:"data"`
}

type fileData struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

type functionCall struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type functionResponse struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Response     json.RawMessage `json:"response"`
	WillContinue *bool           `json:"willContinue"`
	Scheduling   string          `json:"scheduling"`
	Parts        json.RawMessage `json:"parts"`
}

type tool struct {
	FunctionDeclarations  []functionDeclaration `json:"functionDeclarations"`
	GoogleSearch          json.RawMessage       `json:"googleSearch"`
	GoogleSearchRetrieval json.RawMessage       `json:"googleSearchRetrieval"`
	CodeExecution         json.RawMessage       `json:"codeExecution"`
	URLContext            json.RawMessage       `json:"urlContext"`
	ComputerUse           json.RawMessage       `json:"computerUse"`
	FileSearch            json.RawMessage       `json:"fileSearch"`
	GoogleMaps            json.RawMessage       `json:"googleMaps"`
}

type functionDeclaration struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description"`
	Parameters           json.RawMessage `json:"parameters"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
	Response             json.RawMessage `json:"response"`
	ResponseJSONSchema   json.RawMessage `json:"responseJsonSchema"`
	Behavior             string          `json:"behavior"`
}

type toolConfig struct {
	FunctionCallingConfig *struct {
		Mode                 string   `json:"mode"`
		AllowedFunctionNames []string `json:"allowedFunctionNames"`
	} `json:"functionCallingConfig"`
	RetrievalConfig                  json.RawMessage `json:"retrievalConfig"`
	IncludeServerSideToolInvocations *bool           `json:"includeServerSideToolInvocations"`
}

type safetySetting struct {
	Category  string `json:"category"`
	Threshold string `json:"threshold"`
}

type generationConfig struct {
	StopSequences              []string        `json:"stopSequences"`
	ResponseMimeType           string          `json:"responseMimeType"`
	ResponseSchema             json.RawMessage `json:"responseSchema"`
	ResponseJSONSchema         json.RawMessage `json:"responseJsonSchema"`
	ResponseModalities         []string        `json:"responseModalities"`
	CandidateCount             *int32          `json:"candidateCount"`
	MaxOutputTokens            *int32          `json:"maxOutputTokens"`
	Temperature                *float64        `json:"temperature"`
	TopP                       *float64        `json:"topP"`
	TopK                       *float64        `json:"topK"`
	Seed                       *int32          `json:"seed"`
	PresencePenalty            *float64        `json:"presencePenalty"`
	FrequencyPenalty           *float64        `json:"frequencyPenalty"`
	ResponseLogprobs           *bool           `json:"responseLogprobs"`
	Logprobs                   *int32          `json:"logprobs"`
	EnableEnhancedCivicAnswers *bool           `json:"enableEnhancedCivicAnswers"`
	SpeechConfig               json.RawMessage `json:"speechConfig"`
	ThinkingConfig             *struct {
		IncludeThoughts *bool  `json:"includeThoughts"`
		ThinkingBudget  *int32 `json:"thinkingBudget"`
		ThinkingLevel   string `json:"thinkingLevel"`
	} `json:"thinkingConfig"`
	ImageConfig     json.RawMessage `json:"imageConfig"`
	MediaResolution string          `json:"mediaResolution"`
}

// functionNameRE is the Gemini API's rule for function names.
var functionNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$`)

// validateGenerate applies the real API's checks and returns the error
// message of a 400 answer, or "" for a valid request.
func validateGenerate(req *genRequest) string {
	var errs []string
	add := func(field, msg string) {
		errs = append(errs, fmt.Sprintf("* GenerateContentRequest.%s: %s\n", field, msg))
	}

	if len(req.Contents) == 0 {
		add("contents", "contents is not specified")
	}
	for i, c := range req.Contents {
		switch c.Role {
		case "", "user", "model", "function":
		default:
			return "Please use a valid role: user, model."
		}
		if len(c.Parts) == 0 {
			add(fmt.Sprintf("contents[%d].parts", i), "contents.parts must not be empty.")
		}
		for j, p := range c.Parts {
			validatePart(fmt.Sprintf("contents[%d].parts[%d]", i, j), p, add)
		}
	}
	if si := req.SystemInstruction; si != nil {
		if len(si.Parts) == 0 {
			add("system_instruction.parts", "contents.parts must not be empty.")
		}
		for j, p := range si.Parts {
			if p.Text == nil || *p.Text == "" {
				add(fmt.Sprintf("system_instruction.parts[%d]", j), "only non-empty text parts are supported in the system instruction.")
			}
		}
	}
	if msg := validateFunctionTurns(req.Contents); msg != "" && len(errs) == 0 {
		return msg
	}

	declared := map[string]bool{}
	for i, t := range req.Tools {
		for j, fd := range t.FunctionDeclarations {
			field := fmt.Sprintf("tools[%d].function_declarations[%d]", i, j)
			switch {
			case fd.Name == "":
				add(field+".name", "Name cannot be empty.")
			case !functionNameRE.MatchString(fd.Name):
				add(field+".name", "Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.")
			case declared[fd.Name]:
				add(field+".name", "Duplicate function declaration found: "+fd.Name)
			}
			declared[fd.Name] = true
			if len(fd.Parameters) > 0 && len(fd.ParametersJSONSchema) > 0 {
				add(field, "parameters and parameters_json_schema are mutually exclusive.")
			}
			if len(fd.ParametersJSONSchema) > 0 && !isObject(fd.ParametersJSONSchema) {
				add(field+".parameters_json_schema", "must be a JSON object schema.")
			}
		}
	}
	if tc := req.ToolConfig; tc != nil && tc.FunctionCallingConfig != nil {
		fcc := tc.FunctionCallingConfig
		switch fcc.Mode {
		case "", "MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED":
		default:
			add("tool_config.function_calling_config.mode", fmt.Sprintf("Invalid value %q.", fcc.Mode))
		}
		if len(fcc.AllowedFunctionNames) > 0 && fcc.Mode != "ANY" && fcc.Mode != "VALIDATED" {
			add("tool_config.function_calling_config.allowed_function_names", "allowed_function_names can only be set when mode is ANY or VALIDATED.")
		}
		for _, n := range fcc.AllowedFunctionNames {
			if !declared[n] {
				add("tool_config.function_calling_config.allowed_function_names", fmt.Sprintf("function %q is not declared.", n))
			}
		}
	}
	if g := req.GenerationConfig; g != nil {
		if g.CandidateCount != nil && (*g.CandidateCount < 1 || *g.CandidateCount > 8) {
			add("generation_config.candidate_count", "must be in the range [1, 8].")
		}
		if g.MaxOutputTokens != nil && *g.MaxOutputTokens < 1 {
			add("generation_config.max_output_tokens", "must be positive.")
		}
		if g.Temperature != nil && (*g.Temperature < 0 || *g.Temperature > 2) {
			add("generation_config.temperature", "must be in the range [0.0, 2.0].")
		}
		if g.TopP != nil && (*g.TopP < 0 || *g.TopP > 1) {
			add("generation_config.top_p", "must be in the range [0.0, 1.0].")
		}
		for name, v := range map[string]*float64{"presence_penalty": g.PresencePenalty, "frequency_penalty": g.FrequencyPenalty} {
			if v != nil && (*v < -2 || *v > 2) {
				add("generation_config."+name, "must be in the range [-2.0, 2.0].")
			}
		}
		if len(g.StopSequences) > 5 {
			add("generation_config.stop_sequences", "at most 5 stop sequences are allowed.")
		}
		switch g.ResponseMimeType {
		case "", "text/plain", "application/json", "text/x.enum":
		default:
			add("generation_config.response_mime_type", fmt.Sprintf("unsupported response mime type %q; allowed: text/plain, application/json, text/x.enum.", g.ResponseMimeType))
		}
		if len(g.ResponseSchema) > 0 && len(g.ResponseJSONSchema) > 0 {
			add("generation_config", "response_schema and response_json_schema are mutually exclusive.")
		}
		if (len(g.ResponseSchema) > 0 || len(g.ResponseJSONSchema) > 0) && g.ResponseMimeType != "application/json" && g.ResponseMimeType != "text/x.enum" {
			add("generation_config.response_mime_type", "a response schema requires response_mime_type application/json.")
		}
		if tc := g.ThinkingConfig; tc != nil && tc.ThinkingBudget != nil && tc.ThinkingLevel != "" {
			add("generation_config.thinking_config", "thinking_budget and thinking_level cannot both be set.")
		}
	}
	return strings.Join(errs, "")
}

func validatePart(field string, p part, add func(field, msg string)) {
	set := 0
	for _, ok := range []bool{p.Text != nil, p.InlineData != nil, p.FileData != nil, p.FunctionCall != nil,
		p.FunctionResponse != nil, len(p.ExecutableCode) > 0, len(p.CodeExecutionResult) > 0} {
		if ok {
			set++
		}
	}
	switch {
	case set == 0, p.Text != nil && *p.Text == "" && set == 1:
		add(field+".data", "required oneof field 'data' must have one initialized field")
		return
	case set > 1:
		add(field+".data", "oneof field 'data' is already set; a part holds exactly one of text, inline_data, file_data, function_call, function_response.")
		return
	}
	if p.ThoughtSignature != nil {
		if _, err := base64.StdEncoding.DecodeString(*p.ThoughtSignature); err != nil {
			add(field+".thought_signature", "Base64 decoding failed.")
		}
	}
	switch {
	case p.InlineData != nil:
		if p.InlineData.MimeType == "" {
			add(field+".inline_data.mime_type", "mime_type must be specified.")
		}
		if p.InlineData.Data == nil || *p.InlineData.Data == "" {
			add(field+".inline_data.data", "data must be specified.")
		} else if _, err := base64.StdEncoding.DecodeString(*p.InlineData.Data); err != nil {
			if _, err := base64.URLEncoding.DecodeString(*p.InlineData.Data); err != nil {
				add(field+".inline_data.data", "Base64 decoding failed.")
			}
		}
	case p.FileData != nil:
		if p.FileData.FileURI == "" {
			add(field+".file_data.file_uri", "file_uri must be specified.")
		}
	case p.FunctionCall != nil:
		if p.FunctionCall.Name == "" {
			add(field+".function_call.name", "Name cannot be empty.")
		}
		if len(p.FunctionCall.Args) > 0 && string(p.FunctionCall.Args) != "null" && !isObject(p.FunctionCall.Args) {
			add(field+".function_call.args", "Invalid value (type.googleapis.com/google.protobuf.Struct): expected an object.")
		}
	case p.FunctionResponse != nil:
		if p.FunctionResponse.Name == "" {
			add(field+".function_response.name", "Name cannot be empty.")
		}
		if !isObject(p.FunctionResponse.Response) {
			add(field+".function_response.response", "Invalid value (type.googleapis.com/google.protobuf.Struct): expected an object.")
		}
	}
}

// validateFunctionTurns applies the real API's ordering rules for
// function calling turns.
func validateFunctionTurns(contents []content) string {
	count := func(c content, is func(part) bool) int {
		n := 0
		for _, p := range c.Parts {
			if is(p) {
				n++
			}
		}
		return n
	}
	calls := func(c content) int { return count(c, func(p part) bool { return p.FunctionCall != nil }) }
	responses := func(c content) int { return count(c, func(p part) bool { return p.FunctionResponse != nil }) }
	for i, c := range contents {
		if calls(c) > 0 {
			if c.Role != "model" {
				return "Please ensure that function call turns are model turns."
			}
			if i == 0 || contents[i-1].Role == "model" {
				return "Please ensure that function call turn comes immediately after a user turn or after a function response turn."
			}
		}
		if r := responses(c); r > 0 {
			if i == 0 || calls(contents[i-1]) == 0 {
				return "Please ensure that function response turn comes immediately after a function call turn."
			}
			if r != calls(contents[i-1]) {
				return "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn."
			}
		}
	}
	return ""
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}

// --- small helpers -------------------------------------------------------

// responseID renders a response id shaped like the real ones (URL-safe
// base64 of 16 bytes), deterministic in n.
func responseID(n int) string {
	var b [16]byte
	copy(b[:], "tiergate-emu")
	b[12], b[13], b[14], b[15] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// countWords is the emulator's token count: whitespace-separated words.
func countWords(s string) int { return len(strings.Fields(s)) }

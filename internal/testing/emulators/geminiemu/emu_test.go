package geminiemu

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const key = "test-key"

type client struct {
	t  *testing.T
	s  *Server
	hc *http.Client
}

func newClient(t *testing.T, o Options) *client {
	t.Helper()
	s := New(o)
	tr := &http.Transport{}
	t.Cleanup(func() { tr.CloseIdleConnections(); s.Close() })
	return &client{t: t, s: s, hc: &http.Client{Transport: tr}}
}

type answer struct {
	status int
	header http.Header
	body   []byte
	err    error // a body read error (cut connections)
}

func (c *client) do(method, path, apiKey, body string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.s.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if apiKey != "" {
		req.Header.Set("x-goog-api-key", apiKey)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

func (c *client) post(path, body string) answer {
	return c.do(http.MethodPost, path, key, body)
}

const gen = "/v1beta/models/gemini-2.5-flash:generateContent"
const sse = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
const hello = `{"contents":[{"role":"user","parts":[{"text":"say hello"}]}]}`

type errorBody struct {
	Error struct {
		Code    int              `json:"code"`
		Message string           `json:"message"`
		Status  string           `json:"status"`
		Details []map[string]any `json:"details"`
	} `json:"error"`
}

func parseError(t *testing.T, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a Google error body: %v\n%s", err, b)
	}
	return e
}

type genResponse struct {
	Candidates []struct {
		Content struct {
			Role  string `json:"role"`
			Parts []struct {
				Text         string `json:"text"`
				FunctionCall *struct {
					Name string          `json:"name"`
					Args json.RawMessage `json:"args"`
				} `json:"functionCall"`
			} `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
		Index        *int   `json:"index"`
	} `json:"candidates"`
	UsageMetadata struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
		TotalTokenCount      int `json:"totalTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string `json:"modelVersion"`
	ResponseID   string `json:"responseId"`
}

func TestGenerateUnary(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	a := c.post(gen, `{"systemInstruction":{"parts":[{"text":"be kind"}]},"contents":[{"role":"user","parts":[{"text":"say hello"}]}]}`)
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if !bytes.HasPrefix(a.body, []byte("{\n  \"candidates\": [")) {
		t.Errorf("unary answers are pretty-printed like the real API:\n%s", a.body)
	}
	var r genResponse
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatal(err)
	}
	cand := r.Candidates[0]
	words := len(strings.Fields(DefaultReply))
	if cand.Content.Role != "model" || cand.Content.Parts[0].Text != DefaultReply || cand.FinishReason != "STOP" || cand.Index == nil || *cand.Index != 0 {
		t.Errorf("candidate = %+v", cand)
	}
	u := r.UsageMetadata
	if u.PromptTokenCount != 4 || u.CandidatesTokenCount != words || u.TotalTokenCount != 4+words {
		t.Errorf("usage = %+v (prompt = words of system and contents, completion = reply words)", u)
	}
	if r.ModelVersion != "gemini-2.5-flash" || r.ResponseID == "" {
		t.Errorf("modelVersion %q responseId %q", r.ModelVersion, r.ResponseID)
	}
	// Deterministic: the same request gets the same usage and text.
	var r2 genResponse
	json.Unmarshal(c.post(gen, `{"systemInstruction":{"parts":[{"text":"be kind"}]},"contents":[{"role":"user","parts":[{"text":"say hello"}]}]}`).body, &r2)
	if r2.UsageMetadata != r.UsageMetadata || r2.ResponseID == r.ResponseID {
		t.Errorf("second answer: usage %+v, id %q", r2.UsageMetadata, r2.ResponseID)
	}
}

func TestGenerateOptions(t *testing.T) {
	c := newClient(t, Options{APIKey: key, Reply: "one two three four five"})
	var r genResponse
	json.Unmarshal(c.post(gen, `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"maxOutputTokens":2,"candidateCount":3}}`).body, &r)
	if len(r.Candidates) != 3 || r.Candidates[2].Content.Parts[0].Text != "one two " || r.Candidates[2].FinishReason != "MAX_TOKENS" ||
		*r.Candidates[2].Index != 2 || r.UsageMetadata.CandidatesTokenCount != 6 {
		t.Errorf("maxOutputTokens/candidateCount: %+v", r)
	}
	json.Unmarshal(c.post(gen, `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"stopSequences":["four"]}}`).body, &r)
	if r.Candidates[0].Content.Parts[0].Text != "one two three " || r.Candidates[0].FinishReason != "STOP" {
		t.Errorf("stop sequence: %+v", r.Candidates[0])
	}
	c.s.SetOptions(Options{APIKey: key, Reply: "changed"})
	json.Unmarshal(c.post(gen, hello).body, &r)
	if r.Candidates[0].Content.Parts[0].Text != "changed" {
		t.Errorf("SetOptions not applied: %+v", r.Candidates[0])
	}
}

func TestStreamSSE(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	a := c.post(sse, hello)
	if a.status != 200 || a.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s %s", a.status, a.header, a.body)
	}
	events := strings.Split(strings.TrimSuffix(string(a.body), "\r\n\r\n"), "\r\n\r\n")
	words := strings.SplitAfter(DefaultReply, " ")
	if len(events) != len(words) || !strings.HasSuffix(string(a.body), "\r\n\r\n") {
		t.Fatalf("%d events for %d words; body:\n%q", len(events), len(words), a.body)
	}
	want0 := `data: {"candidates": [{"content": {"parts": [{"text": "Hello "}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 2,"candidatesTokenCount": 1,"totalTokenCount": 3,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 2}]},"modelVersion": "gemini-2.5-flash","responseId": `
	if !strings.HasPrefix(events[0], want0) {
		t.Errorf("first event not in the real API's shape:\n got %s\nwant %s...", events[0], want0)
	}
	var text strings.Builder
	for i, ev := range events {
		var r genResponse
		if err := json.Unmarshal([]byte(strings.TrimPrefix(ev, "data: ")), &r); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		text.WriteString(r.Candidates[0].Content.Parts[0].Text)
		last := i == len(events)-1
		if (r.Candidates[0].FinishReason == "STOP") != last {
			t.Errorf("event %d finishReason %q", i, r.Candidates[0].FinishReason)
		}
		if r.UsageMetadata.CandidatesTokenCount != i+1 {
			t.Errorf("event %d running usage %d", i, r.UsageMetadata.CandidatesTokenCount)
		}
	}
	if text.String() != DefaultReply {
		t.Errorf("text = %q", text.String())
	}
}

func TestStreamJSONArray(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	a := c.post("/v1beta/models/gemini-2.5-flash:streamGenerateContent", hello)
	var arr []genResponse
	if err := json.Unmarshal(a.body, &arr); err != nil {
		t.Fatalf("without alt=sse the stream is a JSON array: %v\n%s", err, a.body)
	}
	if len(arr) != len(strings.Fields(DefaultReply)) || arr[len(arr)-1].Candidates[0].FinishReason != "STOP" {
		t.Errorf("%d elements", len(arr))
	}
}

func TestFunctionCalling(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	tools := `"tools":[{"functionDeclarations":[{"name":"get_weather","parametersJsonSchema":{"type":"object"}},{"name":"get_time"}]}]`
	cases := []struct {
		name, body, call string
	}{
		{"auto calls the first", `{"contents":[{"parts":[{"text":"x"}]}],` + tools + `}`, "get_weather"},
		{"allowed names", `{"contents":[{"parts":[{"text":"x"}]}],` + tools + `,"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_time"]}}}`, "get_time"},
		{"none answers text", `{"contents":[{"parts":[{"text":"x"}]}],` + tools + `,"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}}`, ""},
		{"after a function response", `{"contents":[{"role":"user","parts":[{"text":"x"}]},{"role":"model","parts":[{"functionCall":{"name":"get_time","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"get_time","response":{"t":"9"}}}]}],` + tools + `}`, ""},
	}
	for _, tc := range cases {
		a := c.post(gen, tc.body)
		var r genResponse
		if err := json.Unmarshal(a.body, &r); err != nil || a.status != 200 {
			t.Fatalf("%s: %d %s", tc.name, a.status, a.body)
		}
		fc := r.Candidates[0].Content.Parts[0].FunctionCall
		switch {
		case tc.call == "" && fc != nil:
			t.Errorf("%s: unexpected call %s", tc.name, fc.Name)
		case tc.call != "" && (fc == nil || fc.Name != tc.call || compact(fc.Args) != DefaultToolArgs):
			t.Errorf("%s: call = %+v", tc.name, fc)
		}
	}
	c.s.SetOptions(Options{APIKey: key, ToolArgs: `{"a":1}`})
	var r genResponse
	json.Unmarshal(c.post(gen, `{"contents":[{"parts":[{"text":"x"}]}],`+tools+`}`).body, &r)
	if fc := r.Candidates[0].Content.Parts[0].FunctionCall; fc == nil || compact(fc.Args) != `{"a":1}` || r.UsageMetadata.CandidatesTokenCount != 1 {
		t.Errorf("ToolArgs: %+v", r)
	}
}

func TestAuth(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	a := c.do(http.MethodPost, gen, "", hello)
	if e := parseError(t, a.body); a.status != 403 || e.Error.Status != "PERMISSION_DENIED" || !strings.Contains(e.Error.Message, "unregistered callers") {
		t.Errorf("missing key: %d %s", a.status, a.body)
	}
	a = c.do(http.MethodPost, gen, "wrong", hello)
	e := parseError(t, a.body)
	if a.status != 400 || e.Error.Status != "INVALID_ARGUMENT" || e.Error.Message != "API key not valid. Please pass a valid API key." ||
		e.Error.Details[0]["reason"] != "API_KEY_INVALID" {
		t.Errorf("wrong key: %d %s", a.status, a.body)
	}
	if a := c.do(http.MethodPost, gen+"?key="+key, "", hello); a.status != 200 {
		t.Errorf("key query parameter: %d %s", a.status, a.body)
	}
	open := newClient(t, Options{})
	if a := open.do(http.MethodPost, gen, "", hello); a.status != 200 {
		t.Errorf("no APIKey configured: %d", a.status)
	}
}

func TestValidation(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	user := `{"role":"user","parts":[{"text":"x"}]}`
	call := `{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]}`
	cases := []struct {
		name, body, contains string
	}{
		{"no contents", `{}`, "* GenerateContentRequest.contents: contents is not specified\n"},
		{"bad role", `{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, "Please use a valid role: user, model."},
		{"empty parts", `{"contents":[{"role":"user","parts":[]}]}`, "contents.parts must not be empty"},
		{"empty part", `{"contents":[{"role":"user","parts":[{}]}]}`, "required oneof field 'data'"},
		{"two data fields", `{"contents":[{"role":"user","parts":[{"text":"x","inlineData":{"mimeType":"image/png","data":"AA=="}}]}]}`, "oneof field 'data' is already set"},
		{"unknown field", `{"contents":[` + user + `],"generationConfig":{"maxTokens":5}}`, `Unknown name "maxTokens"`},
		{"not JSON", `{"contents":`, "Invalid JSON payload received"},
		{"wrong type", `{"contents":"x"}`, "Invalid value"},
		{"bad base64", `{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"@@@"}}]}]}`, "Base64 decoding failed"},
		{"no mime type", `{"contents":[{"role":"user","parts":[{"inlineData":{"data":"AA=="}}]}]}`, "mime_type must be specified"},
		{"call first", `{"contents":[` + call + `]}`, "function call turn comes immediately after a user turn"},
		{"response without call", `{"contents":[` + user + `,{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}`, "function response turn comes immediately after a function call turn"},
		{"response count", `{"contents":[` + user + `,` + call + `,{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}},{"functionResponse":{"name":"f","response":{}}}]}]}`, "number of function response parts"},
		{"response not object", `{"contents":[` + user + `,` + call + `,{"role":"user","parts":[{"functionResponse":{"name":"f","response":"ok"}}]}]}`, "google.protobuf.Struct"},
		{"args not object", `{"contents":[` + user + `,{"role":"model","parts":[{"functionCall":{"name":"f","args":[1]}}]}]}`, "google.protobuf.Struct"},
		{"function name", `{"contents":[` + user + `],"tools":[{"functionDeclarations":[{"name":"9lives"}]}]}`, "Invalid function name"},
		{"duplicate function", `{"contents":[` + user + `],"tools":[{"functionDeclarations":[{"name":"f"},{"name":"f"}]}]}`, "Duplicate function declaration"},
		{"allowed names with AUTO", `{"contents":[` + user + `],"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"AUTO","allowedFunctionNames":["f"]}}}`, "allowed_function_names can only be set"},
		{"undeclared allowed name", `{"contents":[` + user + `],"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}}}`, "is not declared"},
		{"temperature", `{"contents":[` + user + `],"generationConfig":{"temperature":3}}`, "generation_config.temperature"},
		{"candidate count", `{"contents":[` + user + `],"generationConfig":{"candidateCount":9}}`, "generation_config.candidate_count"},
		{"schema without JSON mime", `{"contents":[` + user + `],"generationConfig":{"responseJsonSchema":{"type":"object"}}}`, "response_mime_type"},
		{"budget and level", `{"contents":[` + user + `],"generationConfig":{"thinkingConfig":{"thinkingBudget":10,"thinkingLevel":"LOW"}}}`, "thinking_budget and thinking_level"},
		{"system instruction image", `{"contents":[` + user + `],"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]}}`, "system_instruction"},
	}
	for _, tc := range cases {
		a := c.post(gen, tc.body)
		if a.status != 400 {
			t.Errorf("%s: status %d, want 400\n%s", tc.name, a.status, a.body)
			continue
		}
		e := parseError(t, a.body)
		if e.Error.Code != 400 || e.Error.Status != "INVALID_ARGUMENT" || !strings.Contains(e.Error.Message, tc.contains) {
			t.Errorf("%s: %+v, want message containing %q", tc.name, e.Error, tc.contains)
		}
	}
	// The JSON mapping accepts snake_case names as well.
	if a := c.post(gen, `{"contents":[{"parts":[{"text":"x"}]}],"generation_config":{"max_output_tokens":5},"system_instruction":{"parts":[{"text":"s"}]}}`); a.status != 200 {
		t.Errorf("snake_case: %d %s", a.status, a.body)
	}
}

func TestUnknownModelAndPath(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	a := c.post("/v1beta/models/gpt-4o:generateContent", hello)
	e := parseError(t, a.body)
	if a.status != 404 || e.Error.Status != "NOT_FOUND" ||
		e.Error.Message != "models/gpt-4o is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods." {
		t.Errorf("unknown model: %d %s", a.status, a.body)
	}
	if a := c.post("/v1beta/models/text-embedding-004:generateContent", hello); a.status != 404 {
		t.Errorf("embedding model used for generation: %d", a.status)
	}
	if a := c.post("/v1beta/models/gemini-2.5-flash:embedContent", `{"content":{"parts":[{"text":"x"}]}}`); a.status != 404 {
		t.Errorf("chat model used for embeddings: %d", a.status)
	}
	if a := c.post("/v1beta/models/gemini-2.5-flash:teleport", hello); a.status != 404 {
		t.Errorf("unknown method: %d", a.status)
	}
}

func TestFaultStatus(t *testing.T) {
	c := newClient(t, Options{APIKey: key, Fault: Fault{Status: 429, RetryAfter: "30"}})
	a := c.post(gen, hello)
	e := parseError(t, a.body)
	if a.status != 429 || a.header.Get("Retry-After") != "30" || e.Error.Status != "RESOURCE_EXHAUSTED" ||
		e.Error.Details[0]["retryDelay"] != "30s" || !strings.Contains(e.Error.Details[0]["@type"].(string), "RetryInfo") {
		t.Errorf("429: %d %v %s", a.status, a.header, a.body)
	}
	c.s.SetOptions(Options{APIKey: key, Fault: Fault{Status: 500, Message: "boom"}})
	a = c.post(sse, hello)
	if e := parseError(t, a.body); a.status != 500 || e.Error.Status != "INTERNAL" || e.Error.Message != "boom" {
		t.Errorf("500: %d %s", a.status, a.body)
	}
	c.s.SetOptions(Options{APIKey: key, Fault: Fault{Status: 503}})
	if e := parseError(t, c.post(gen, hello).body); e.Error.Message != "The model is overloaded. Please try again later." {
		t.Errorf("503 default message: %q", e.Error.Message)
	}
}

func TestFaultMidStream(t *testing.T) {
	c := newClient(t, Options{APIKey: key, Fault: Fault{ErrorAfter: 2}})
	a := c.post(sse, hello)
	if a.status != 200 || a.err != nil {
		t.Fatalf("%d %v", a.status, a.err)
	}
	parts := strings.Split(string(a.body), "\r\n\r\n")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "data: ") || !strings.HasPrefix(parts[1], "data: ") {
		t.Fatalf("want 2 events then the error object:\n%q", a.body)
	}
	if strings.Contains(parts[0]+parts[1], "finishReason") {
		t.Error("a failing stream must not finish")
	}
	e := parseError(t, []byte(parts[2]))
	if e.Error.Code != 503 || e.Error.Status != "UNAVAILABLE" || !strings.HasPrefix(parts[2], "{\n  \"error\": {") {
		t.Errorf("error object = %q", parts[2])
	}
}

func TestFaultCut(t *testing.T) {
	c := newClient(t, Options{APIKey: key, Fault: Fault{CutAfter: 3}})
	a := c.post(sse, hello)
	if a.err == nil {
		t.Fatalf("a cut stream must fail the reader, got a clean end:\n%s", a.body)
	}
	if n := strings.Count(string(a.body), "data: "); n != 3 || strings.Contains(string(a.body), "finishReason") {
		t.Errorf("%d events before the cut, finish present=%v", n, strings.Contains(string(a.body), "finishReason"))
	}
}

func TestFaultResetAndHang(t *testing.T) {
	c := newClient(t, Options{APIKey: key, Fault: Fault{Reset: true}})
	if a := c.post(gen, hello); a.err == nil {
		t.Errorf("reset: got an answer %d", a.status)
	}
	c.s.SetOptions(Options{APIKey: key, Fault: Fault{Hang: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.s.URL+gen, strings.NewReader(hello))
	if resp, err := c.hc.Do(req); err == nil {
		resp.Body.Close()
		t.Error("hang: got an answer")
	}
	// A hanging request still in flight must not keep Close from returning.
	go func() {
		req, _ := http.NewRequest(http.MethodPost, c.s.URL+gen, strings.NewReader(hello))
		if resp, err := c.hc.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); len(c.s.Requests()) < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hanging request never arrived")
		}
	}
	c.s.Close()
}

func TestEmbeddings(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	var one struct {
		Embedding struct {
			Values []float64 `json:"values"`
		} `json:"embedding"`
	}
	a := c.post("/v1beta/models/text-embedding-004:embedContent", `{"model":"models/text-embedding-004","content":{"parts":[{"text":"hello"}]}}`)
	if err := json.Unmarshal(a.body, &one); err != nil || a.status != 200 || len(one.Embedding.Values) != 768 {
		t.Fatalf("%d %v %d values", a.status, err, len(one.Embedding.Values))
	}
	var norm float64
	for _, v := range one.Embedding.Values {
		norm += v * v
	}
	if math.Abs(norm-1) > 1e-3 {
		t.Errorf("norm² = %v, want a unit vector", norm)
	}
	var batch struct {
		Embeddings []struct {
			Values []float64 `json:"values"`
		} `json:"embeddings"`
	}
	a = c.post("/v1beta/models/gemini-embedding-001:batchEmbedContents", `{"requests":[
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]},"outputDimensionality":5},
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"world"}]},"outputDimensionality":5}]}`)
	if err := json.Unmarshal(a.body, &batch); err != nil || len(batch.Embeddings) != 2 || len(batch.Embeddings[0].Values) != 5 {
		t.Fatalf("batch: %d %s", a.status, a.body)
	}
	first := mustJSON(batch.Embeddings[0].Values)
	json.Unmarshal(c.post("/v1beta/models/gemini-embedding-001:batchEmbedContents", `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]},"outputDimensionality":5}]}`).body, &batch)
	if string(mustJSON(batch.Embeddings[0].Values)) != string(first) {
		t.Error("embeddings are not deterministic")
	}
	for _, bad := range []string{
		`{"requests":[]}`,
		`{"requests":[{"content":{"parts":[{"text":"x"}]}}]}`,
		`{"requests":[{"model":"models/other","content":{"parts":[{"text":"x"}]}}]}`,
		`{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":""}]}}]}`,
		`{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"x"}]},"outputDimensionality":99999}]}`,
	} {
		if a := c.post("/v1beta/models/gemini-embedding-001:batchEmbedContents", bad); a.status != 400 {
			t.Errorf("%s: %d", bad, a.status)
		}
	}
}

func compact(raw json.RawMessage) string {
	var buf bytes.Buffer
	json.Compact(&buf, raw)
	return buf.String()
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestModels(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	var names []string
	token := ""
	for pages := 0; pages < 10; pages++ {
		path := "/v1beta/models?pageSize=4"
		if token != "" {
			path += "&pageToken=" + token
		}
		a := c.do(http.MethodGet, path, key, "")
		var page struct {
			Models []struct {
				Name string `json:"name"`
			} `json:"models"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil || a.status != 200 || len(page.Models) > 4 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		for _, m := range page.Models {
			names = append(names, m.Name)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(names) != len(catalog()) || names[0] != "models/gemini-2.5-flash" {
		t.Errorf("models = %v", names)
	}
	if a := c.do(http.MethodGet, "/v1beta/models/gemini-2.5-pro", key, ""); a.status != 200 || !strings.Contains(string(a.body), `"displayName": "Gemini 2.5 Pro"`) {
		t.Errorf("get model: %d %s", a.status, a.body)
	}
	if a := c.do(http.MethodGet, "/v1beta/models/nope", key, ""); a.status != 404 {
		t.Errorf("unknown model: %d", a.status)
	}
}

func TestRequestLog(t *testing.T) {
	c := newClient(t, Options{APIKey: key})
	c.post(sse, hello)
	reqs := c.s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || r.Query != "alt=sse" ||
		r.Header.Get("X-Goog-Api-Key") != key || string(r.Body) != hello {
		t.Errorf("recorded %+v", r)
	}
	r.Body[0] = 'X'
	r.Header.Set("X-Goog-Api-Key", "changed")
	if again := c.s.Requests()[0]; again.Body[0] != '{' || again.Header.Get("X-Goog-Api-Key") != key {
		t.Error("Requests does not return a copy")
	}
}

func TestMarshalSSE(t *testing.T) {
	b, _ := marshalSSE(map[string]any{"a": []any{map[string]any{"b": "x: \"y\", z"}}, "c": 1})
	if string(b) != `{"a": [{"b": "x: \"y\", z"}],"c": 1}` {
		t.Errorf("got %s", b)
	}
}

// FuzzGenerate: any body gets a 200 with a valid answer or a Google error
// body, and the emulator never panics or hangs.
func FuzzGenerate(f *testing.F) {
	for _, s := range []string{hello, `{}`, `{"contents":[{"parts":[{"functionCall":{"name":"f"}}]}]}`,
		`{"contents":[{"role":"user","parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],"generationConfig":{"candidateCount":2,"maxOutputTokens":1}}`,
		`{"contents":[{"parts":[{"text":"x"}]}],"generation_config":{"stop_sequences":["",""]}}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	s := New(Options{})
	defer s.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		path := gen
		if stream {
			path = sse
		}
		resp, err := hc.Post(s.URL+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("broken answer: %v", err)
		}
		switch resp.StatusCode {
		case 200:
			if !stream && !json.Valid(b) {
				t.Fatalf("invalid JSON answer %q", b)
			}
			if stream && !bytes.HasPrefix(b, []byte("data: {")) {
				t.Fatalf("invalid stream %q", b)
			}
		case 400:
			var e errorBody
			if json.Unmarshal(b, &e) != nil || e.Error.Code != 400 || e.Error.Message == "" {
				t.Fatalf("invalid error body %q", b)
			}
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		s.Forget() // keep the log from growing while fuzzing
	})
}

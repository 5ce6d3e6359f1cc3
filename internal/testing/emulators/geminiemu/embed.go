package geminiemu

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
)

type embedRequest struct {
	Model                string   `json:"model"`
	Content              *content `json:"content"`
	TaskType             string   `json:"taskType"`
	Title                string   `json:"title"`
	OutputDimensionality *int32   `json:"outputDimensionality"`
}

type batchEmbedRequest struct {
	Requests []embedRequest `json:"requests"`
}

type embeddingOut struct {
	Values []float32 `json:"values"`
}

// embeddingDims is the full vector size of an embedding model.
func embeddingDims(model string) int {
	if strings.HasPrefix(model, "gemini-embedding") {
		return 3072
	}
	return 768
}

func isEmbeddingModel(model string) bool { return strings.Contains(model, "embedding") }

// checkEmbed validates one EmbedContentRequest at field prefix and returns
// the real API's error line, or "".
func checkEmbed(prefix, model string, r *embedRequest) string {
	if r.Model != "" && strings.TrimPrefix(r.Model, "models/") != model {
		return fmt.Sprintf("* %s.model: the model %q does not match the model in the URL, models/%s\n", prefix, r.Model, model)
	}
	if r.Content == nil || len(r.Content.Parts) == 0 {
		return fmt.Sprintf("* %s.content.parts: contents.parts must not be empty.\n", prefix)
	}
	for j, p := range r.Content.Parts {
		if p.Text == nil || *p.Text == "" {
			return fmt.Sprintf("* %s.content.parts[%d].data: required oneof field 'data' must have one initialized field\n", prefix, j)
		}
	}
	if d := r.OutputDimensionality; d != nil && (*d < 1 || int(*d) > embeddingDims(model)) {
		return fmt.Sprintf("* %s.output_dimensionality: must be in the range [1, %d].\n", prefix, embeddingDims(model))
	}
	return ""
}

func embeddingFor(model string, r *embedRequest) embeddingOut {
	var text strings.Builder
	for _, p := range r.Content.Parts {
		text.WriteString(*p.Text)
	}
	dims := embeddingDims(model)
	if r.OutputDimensionality != nil {
		dims = int(*r.OutputDimensionality)
	}
	return embeddingOut{Values: vector(text.String(), dims)}
}

// vector is a deterministic unit vector derived from text.
func vector(text string, dims int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	x := h.Sum64() | 1
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		f := float64(int64(x%2000001)-1000000) / 1e6
		v[i] = float32(f)
		norm += f * f
	}
	norm = math.Sqrt(norm)
	for i := range v {
		// Round to 9 significant digits, as the real API prints them.
		v[i] = float32(mustParse(strconv.FormatFloat(float64(v[i])/norm, 'g', 9, 32)))
	}
	return v
}

func mustParse(s string) float64 {
	f, _ := strconv.ParseFloat(s, 32)
	return f
}

// decodeEmbedding decodes body strictly into a T for the embedding
// method of model, answering the error and returning nil when body does
// not decode or model does not embed.
func decodeEmbedding[T any](w http.ResponseWriter, model, method string, body []byte) *T {
	var req T
	if msg := decodeStrict(body, &req); msg != "" {
		writeBadRequest(w, msg)
		return nil
	}
	if !isEmbeddingModel(model) {
		modelNotFound(w, model, method)
		return nil
	}
	return &req
}

func (s *Server) embed(w http.ResponseWriter, model string, body []byte) {
	req := decodeEmbedding[embedRequest](w, model, "embedContent", body)
	if req == nil {
		return
	}
	if msg := checkEmbed("EmbedContentRequest", model, req); msg != "" {
		writeBadRequest(w, msg)
		return
	}
	writeJSON(w, struct {
		Embedding embeddingOut `json:"embedding"`
	}{embeddingFor(model, req)})
}

func (s *Server) batchEmbed(w http.ResponseWriter, model string, body []byte) {
	req := decodeEmbedding[batchEmbedRequest](w, model, "batchEmbedContents", body)
	if req == nil {
		return
	}
	if len(req.Requests) == 0 {
		writeBadRequest(w, "* BatchEmbedContentsRequest.requests: at least one request is required.\n")
		return
	}
	if len(req.Requests) > 100 {
		writeBadRequest(w, "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch.\n")
		return
	}
	var msgs strings.Builder
	for i := range req.Requests {
		if req.Requests[i].Model == "" {
			msgs.WriteString(fmt.Sprintf("* BatchEmbedContentsRequest.requests[%d].model: model is required.\n", i))
			continue
		}
		msgs.WriteString(checkEmbed(fmt.Sprintf("BatchEmbedContentsRequest.requests[%d]", i), model, &req.Requests[i]))
	}
	if msgs.Len() > 0 {
		writeBadRequest(w, msgs.String())
		return
	}
	out := make([]embeddingOut, len(req.Requests))
	for i := range req.Requests {
		out[i] = embeddingFor(model, &req.Requests[i])
	}
	writeJSON(w, struct {
		Embeddings []embeddingOut `json:"embeddings"`
	}{out})
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := marshalIndent(v)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Vary", "Origin, X-Origin, Referer")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}

// --- models --------------------------------------------------------------

type modelInfo struct {
	Name                       string   `json:"name"`
	Version                    string   `json:"version"`
	DisplayName                string   `json:"displayName"`
	Description                string   `json:"description"`
	InputTokenLimit            int      `json:"inputTokenLimit"`
	OutputTokenLimit           int      `json:"outputTokenLimit"`
	SupportedGenerationMethods []string `json:"supportedGenerationMethods"`
	Temperature                *float64 `json:"temperature,omitempty"`
	TopP                       *float64 `json:"topP,omitempty"`
	TopK                       *int     `json:"topK,omitempty"`
	MaxTemperature             *float64 `json:"maxTemperature,omitempty"`
	Thinking                   bool     `json:"thinking,omitempty"`
}

// catalog is the emulator's model list (a fresh slice on every call).
func catalog() []modelInfo {
	one, p95, two := 1.0, 0.95, 2.0
	k64 := 64
	gen := []string{"generateContent", "countTokens", "createCachedContent", "batchGenerateContent"}
	chat := func(id, display, desc string, in, out int, thinking bool) modelInfo {
		return modelInfo{Name: "models/" + id, Version: "001", DisplayName: display, Description: desc,
			InputTokenLimit: in, OutputTokenLimit: out, SupportedGenerationMethods: gen,
			Temperature: &one, TopP: &p95, TopK: &k64, MaxTemperature: &two, Thinking: thinking}
	}
	return []modelInfo{
		chat("gemini-2.5-flash", "Gemini 2.5 Flash", "Stable version of Gemini 2.5 Flash.", 1048576, 65536, true),
		chat("gemini-2.5-pro", "Gemini 2.5 Pro", "Stable release of Gemini 2.5 Pro.", 1048576, 65536, true),
		chat("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", "Stable version of Gemini 2.5 Flash-Lite.", 1048576, 65536, true),
		chat("gemini-2.0-flash", "Gemini 2.0 Flash", "Gemini 2.0 Flash", 1048576, 8192, false),
		{Name: "models/gemini-embedding-001", Version: "001", DisplayName: "Gemini Embedding 001",
			Description: "Obtain a distributed representation of a text.", InputTokenLimit: 2048, OutputTokenLimit: 1,
			SupportedGenerationMethods: []string{"embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"}},
		{Name: "models/text-embedding-004", Version: "004", DisplayName: "Text Embedding 004",
			Description: "Obtain a distributed representation of a text.", InputTokenLimit: 2048, OutputTokenLimit: 1,
			SupportedGenerationMethods: []string{"embedContent"}},
	}
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	all := catalog()
	size := 50
	if v := r.URL.Query().Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeBadRequest(w, fmt.Sprintf("Invalid value at 'page_size' (TYPE_INT32), %q", v))
			return
		}
		if n > 0 {
			size = min(n, 1000)
		}
	}
	start := 0
	if tok := r.URL.Query().Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-"))
		if err != nil || n < 0 || n > len(all) || !strings.HasPrefix(tok, "page-") {
			writeBadRequest(w, "Invalid page token.")
			return
		}
		start = n
	}
	end := min(start+size, len(all))
	out := struct {
		Models        []modelInfo `json:"models"`
		NextPageToken string      `json:"nextPageToken,omitempty"`
	}{Models: all[start:end]}
	if end < len(all) {
		out.NextPageToken = "page-" + strconv.Itoa(end)
	}
	writeJSON(w, out)
}

func (s *Server) getModel(w http.ResponseWriter, model string) {
	for _, m := range catalog() {
		if m.Name == "models/"+model {
			writeJSON(w, m)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("models/%s is not found for API version v1beta, or is not supported for get.", model), nil)
}

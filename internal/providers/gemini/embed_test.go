package gemini

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/testing/conformance"
	"github.com/tiergate/tiergate/internal/testing/emulators/geminiemu"
)

type embedList struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func decodeFloats(t *testing.T, raw json.RawMessage) []float32 {
	t.Helper()
	var f []float32
	if err := json.Unmarshal(raw, &f); err == nil {
		return f
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("embedding is neither floats nor base64: %s", raw)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("bad base64 embedding: %v", err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func TestEmbedEmulator(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	var floats [][]float32
	for _, format := range []string{"float", "base64"} {
		res, err := p.Embed(context.Background(), &providers.EmbedRequest{Model: "text-embedding-004",
			Body: []byte(`{"model":"text-embedding-3-small","input":["alpha","beta","gamma"],"dimensions":8,"encoding_format":"` + format + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var l embedList
		if err := json.Unmarshal(res.Body, &l); err != nil {
			t.Fatal(err)
		}
		if l.Object != "list" || l.Model != "text-embedding-004" || len(l.Data) != 3 {
			t.Fatalf("list = %+v", l)
		}
		for i, d := range l.Data {
			v := decodeFloats(t, d.Embedding)
			if d.Object != "embedding" || d.Index != i || len(v) != 8 {
				t.Errorf("%s data[%d] = %+v (%d values)", format, i, d, len(v))
			}
			if format == "float" {
				floats = append(floats, v)
			} else if fmt.Sprint(v) != fmt.Sprint(floats[i]) {
				t.Errorf("base64 embedding %d decodes to %v, float gave %v", i, v, floats[i])
			}
		}
		if res.Usage != nil {
			t.Errorf("Usage = %+v; Gemini reports none for embeddings", res.Usage)
		}
	}
	r := emu.Requests()[0]
	if !strings.HasSuffix(r.Path, "/models/text-embedding-004:batchEmbedContents") {
		t.Errorf("path = %s", r.Path)
	}
	var wire struct {
		Requests []struct {
			Model                string `json:"model"`
			OutputDimensionality int    `json:"outputDimensionality"`
			Content              struct {
				Parts []struct {
					Text string `json:"text"`
				} `json:"parts"`
			} `json:"content"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(r.Body, &wire); err != nil {
		t.Fatal(err)
	}
	if len(wire.Requests) != 3 || wire.Requests[1].Model != "models/text-embedding-004" ||
		wire.Requests[1].OutputDimensionality != 8 || wire.Requests[1].Content.Parts[0].Text != "beta" {
		t.Errorf("wire request = %s", r.Body)
	}
}

// TestEmbedBatches: more than 100 inputs are split, indexes continue.
func TestEmbedBatches(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	inputs := make([]string, 130)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("text %d", i)
	}
	body, _ := json.Marshal(map[string]any{"input": inputs, "dimensions": 4})
	res, err := p.Embed(context.Background(), &providers.EmbedRequest{Model: "gemini-embedding-001", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var l embedList
	if err := json.Unmarshal(res.Body, &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Data) != 130 || l.Data[129].Index != 129 {
		t.Errorf("%d embeddings", len(l.Data))
	}
	if n := len(emu.Requests()); n != 2 {
		t.Errorf("%d upstream calls, want 2 (100 + 30)", n)
	}
}

func TestEmbedFixture(t *testing.T) {
	f := loadFixture(t, "batch_embed_contents.json")
	up := newReplay(t, 200, "application/json", f.Body)
	p := newProvider(t, up.URL)
	for _, format := range []string{"float", "base64"} {
		res, err := p.Embed(context.Background(), &providers.EmbedRequest{Model: "embedding-001",
			Body: []byte(`{"input":"Write a story about a magic backpack.","encoding_format":"` + format + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		conformance.GoldenJSON(t, "golden/batch_embed_contents."+format+".openai.json", res.Body)
	}
	// embedContent's answer shape (one embedding) is what the emulator
	// must also produce; the adapter itself always batches.
	single := loadFixture(t, "embed_content.json")
	var e struct {
		Embedding struct {
			Values []float32 `json:"values"`
		} `json:"embedding"`
	}
	if err := json.Unmarshal(single.Body, &e); err != nil || len(e.Embedding.Values) != 7 {
		t.Fatalf("embed_content fixture: %v", err)
	}
}

func TestEmbedRejects(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	for _, tc := range []struct{ body, param string }{
		{`{"input":[[1,2,3]]}`, "input"},
		{`{"input":[1,2,3]}`, "input"},
		{`{"input":""}`, "input"},
		{`{"input":[]}`, "input"},
		{`{"input":["a",""]}`, "input[1]"},
		{`{}`, "input"},
		{`{"input":"a","encoding_format":"int8"}`, "encoding_format"},
		{`{"input":"a","dimensions":0}`, "dimensions"},
	} {
		_, err := p.Embed(context.Background(), &providers.EmbedRequest{Model: "text-embedding-004", Body: []byte(tc.body)})
		pe := conformance.AsError(t, err)
		if pe.Status != 400 || pe.Param != tc.param {
			t.Errorf("%s: got %d %q (%s)", tc.body, pe.Status, pe.Param, pe.Message)
		}
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("%d rejected requests reached the upstream", n)
	}
	// A chat model cannot embed: the upstream's 404 comes through.
	_, err := p.Embed(context.Background(), &providers.EmbedRequest{Model: testModel, Body: []byte(`{"input":"a"}`)})
	if pe := conformance.AsError(t, err); pe.Status != 404 {
		t.Errorf("chat model: %+v", pe)
	}
}

func TestModels(t *testing.T) {
	f := loadFixture(t, "models_list.json")
	up := newReplay(t, 200, "application/json", f.Body)
	p := newProvider(t, up.URL)
	got, err := p.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := "chat-bison-001 text-bison-001 embedding-gecko-001 embedding-gecko-002 gemini-pro gemini-pro-vision gemini-ultra embedding-001 aqa"
	if strings.Join(got, " ") != want {
		t.Errorf("models = %v", got)
	}
}

// TestModelsPages follows nextPageToken.
func TestModelsPages(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("pageToken")
		mu.Lock()
		tokens = append(tokens, tok)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if tok == "" {
			fmt.Fprint(w, `{"models":[{"name":"models/a"},{"name":"models/b"}],"nextPageToken":"p2"}`)
			return
		}
		fmt.Fprint(w, `{"models":[{"name":"models/c"}]}`)
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, srv.URL)
	got, err := p.Models(context.Background())
	if err != nil || strings.Join(got, ",") != "a,b,c" {
		t.Errorf("models = %v, err %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(tokens, ",") != ",p2" {
		t.Errorf("page tokens asked = %q", tokens)
	}
}

func TestHealth(t *testing.T) {
	emu := newEmulator(t, geminiemu.Options{})
	p := newProvider(t, emu.URL)
	if err := p.Health(context.Background()); err != nil {
		t.Errorf("healthy: %v", err)
	}
	r := emu.Requests()[0]
	if r.Method != http.MethodGet || r.Path != "/v1beta/models" || r.Query != "pageSize=1" {
		t.Errorf("health asked %s %s?%s", r.Method, r.Path, r.Query)
	}
	emu.SetOptions(geminiemu.Options{APIKey: "rotated"})
	err := p.Health(context.Background())
	if pe := conformance.AsError(t, err); pe.Status != 401 || !strings.Contains(pe.Message, "GEMINI_API_KEY") {
		t.Errorf("bad key: %+v", pe)
	}
	emu.SetOptions(geminiemu.Options{APIKey: testKey, Fault: geminiemu.Fault{Status: 503}})
	if pe := conformance.AsError(t, p.Health(context.Background())); pe.Status != 503 || !pe.Retryable {
		t.Errorf("503: %+v", pe)
	}
	if _, err := p.Models(context.Background()); err == nil {
		t.Error("Models succeeded against a failing upstream")
	}
}

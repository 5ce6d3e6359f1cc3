package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/genai"
)

func TestScratchWire(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Println(r.Method, r.URL.String())
		for k, v := range r.Header { fmt.Println("  ", k, v) }
		fmt.Println(string(b))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"candidates":[{"content":{"parts":[{"text":"hi"}],"role":"model"},"finishReason":"STOP"}]}`)
	}))
	defer srv.Close()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{APIKey: "k", Backend: genai.BackendGeminiAPI, HTTPClient: srv.Client(), HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL}})
	if err != nil { t.Fatal(err) }
	f := false
	temp := float32(0.7)
	seed := int32(3)
	cfg := &genai.GenerateContentConfig{
		AutomaticContinuation: &f,
		SystemInstruction: &genai.Content{Parts: []*genai.Part{{Text: "be nice"}}},
		Temperature: &temp, Seed: &seed, MaxOutputTokens: 10, StopSequences: []string{"x"}, CandidateCount: 2,
		ResponseMIMEType: "application/json", ResponseJsonSchema: json.RawMessage(`{"type":"object"}`),
		Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{Name: "f", ParametersJsonSchema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"integer"}}}`)}}}},
		ToolConfig: &genai.ToolConfig{FunctionCallingConfig: &genai.FunctionCallingConfig{Mode: genai.FunctionCallingConfigModeAny, AllowedFunctionNames: []string{"f"}}},
		ThinkingConfig: &genai.ThinkingConfig{IncludeThoughts: true},
	}
	contents := []*genai.Content{
		{Role: "user", Parts: []*genai.Part{{Text: "hi"}, {InlineData: &genai.Blob{MIMEType: "image/png", Data: []byte("abc")}}}},
		{Role: "model", Parts: []*genai.Part{{FunctionCall: &genai.FunctionCall{Name: "f", Args: map[string]any{"a": 1}}, ThoughtSignature: []byte("sig")}}},
		{Role: "user", Parts: []*genai.Part{{FunctionResponse: &genai.FunctionResponse{Name: "f", Response: map[string]any{"result": 2}}}}},
	}
	_, err = c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, cfg)
	fmt.Println("err", err)
	for r, err := range c.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", contents[:1], &genai.GenerateContentConfig{AutomaticContinuation: &f}) {
		fmt.Println("stream", r != nil, err)
	}
	_, err = c.Models.EmbedContent(context.Background(), "text-embedding-004", []*genai.Content{{Parts: []*genai.Part{{Text: "a"}}}, {Parts: []*genai.Part{{Text: "b"}}}}, &genai.EmbedContentConfig{OutputDimensionality: &seed})
	fmt.Println("err", err)
	_, err = c.Models.List(context.Background(), &genai.ListModelsConfig{PageSize: 2})
	fmt.Println("err", err)
}

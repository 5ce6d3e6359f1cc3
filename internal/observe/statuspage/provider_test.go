package statuspage

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestProviderState: a backend whose provider's breaker is not closed
// says so in its health cell (folded into the words: the provider is
// down, or a trial request) and in status.json; a closed or unknown one
// adds nothing to the cell.
func TestProviderState(t *testing.T) {
	bs := []Backend{
		{Model: "a", Provider: "groq", State: "closed", ProviderState: "open"},
		{Model: "b", Provider: "groq", State: "open", ProviderState: "half-open"},
		{Model: "c", Provider: "openai", State: "closed", ProviderState: "closed"},
		{Model: "d", Provider: "ollama", State: "closed"},
	}
	h := newHandler(Backends(func() []Backend { return bs }), func() time.Time { return fixedNow })
	body, _ := io.ReadAll(get(t, h, http.MethodGet, "/").Body)
	got := rows(t, string(body))
	for i, want := range []string{"provider down: circuit open after the provider's failures", "cooling down (circuit open after failures)", "healthy", "healthy"} {
		if got[i]["health"] != want {
			t.Errorf("row %d health cell %q, want %q", i, got[i]["health"], want)
		}
	}
	for i, want := range []string{"open", "half-open", "closed", ""} {
		if got[i]["provider-state"] != want {
			t.Errorf("row %d data-provider-state %q, want %q", i, got[i]["provider-state"], want)
		}
	}
	var st Status
	if err := json.Unmarshal(mustRead(t, get(t, h, http.MethodGet, "/status.json")), &st); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"open", "half-open", "closed", ""} {
		if st.Backends[i].ProviderState != want {
			t.Errorf("status.json backend %d provider_state %q, want %q", i, st.Backends[i].ProviderState, want)
		}
	}
}

func mustRead(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package openaiwire

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Keys of many shapes, and the texts an upstream might echo them in.
var secretShapes = []string{
	"sk-proj-AbCdEf0123456789xyz",
	"gsk_0123456789abcdefABCDEF",
	"AIzaSyD-1234567890abcdefghijklmnopq",
	"plainlowercasekey",
	"key/with+slashes=and==",
	`quote"and\backslash`,
	"ünïcödé-kéy-1234",
	"abcd",
}

func echoes(key string) []string {
	return []string{
		key,
		"Incorrect API key provided: " + key + ".",
		"key=" + key + "&x=1",
		"Bearer" + key + "trailing",
		"?key=" + url.QueryEscape(key),
		"/v1/" + url.PathEscape(key) + "/x",
		`{"message":"bad ` + strings.ReplaceAll(strings.ReplaceAll(key, `\`, `\\`), `"`, `\"`) + `"}`,
		"Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+key)),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+key+"!")),
		base64.URLEncoding.EncodeToString([]byte("xy" + key)),
		base64.StdEncoding.EncodeToString([]byte(key)),
	}
}

func TestRedactorScrubsEveryShape(t *testing.T) {
	for _, key := range secretShapes {
		r := NewRedactor(key)
		for _, text := range echoes(key) {
			got := r.String(text)
			if strings.Contains(got, key) {
				t.Errorf("key %q: %q kept the key: %q", key, text, got)
			}
			if len(key) >= 9 { // short keys have no stable base64 run
				for _, enc := range []string{base64.StdEncoding.EncodeToString([]byte(key)), url.QueryEscape(key)} {
					if strings.Contains(got, strings.TrimRight(enc, "=")) {
						t.Errorf("key %q: %q kept an encoded form: %q", key, text, got)
					}
				}
			}
			if gb := string(r.Bytes([]byte(text))); gb != got {
				t.Errorf("Bytes and String disagree: %q vs %q", gb, got)
			}
		}
	}
}

func TestRedactorLeavesOtherTextAlone(t *testing.T) {
	r := NewRedactor("sk-secret-1234567")
	in := []byte(`{"error":{"message":"model overloaded <try later>"}}`)
	out := r.Bytes(in)
	if &out[0] != &in[0] || string(out) != string(in) {
		t.Errorf("Bytes changed or copied a body without the key: %q", out)
	}
	var nilR *Redactor
	if nilR.String("sk-secret-1234567") != "sk-secret-1234567" || nilR.MayHold([]byte("x")) {
		t.Error("a nil Redactor must scrub nothing")
	}
	if NewRedactor("").Active() || NewRedactor("ab").Active() {
		t.Error("an empty or very short key must not scrub")
	}
}

func TestRedactorHeader(t *testing.T) {
	key := "sk-header-key-123456"
	r := NewRedactor(key)
	h := http.Header{"X-Echo": {"got " + key}, "Other": {"fine"}}
	out := r.Header(h)
	if strings.Contains(out.Get("X-Echo"), key) || out.Get("Other") != "fine" {
		t.Errorf("Header: %v", out)
	}
	if !strings.Contains(h.Get("X-Echo"), key) {
		t.Error("Header must not change its argument")
	}
}

func BenchmarkRedactorMayHold(b *testing.B) {
	r := NewRedactor("sk-proj-AbCdEf0123456789xyz")
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hello there"},"finish_reason":null}]}`)
	for i := 0; i < b.N; i++ {
		if r.MayHold(chunk) {
			b.Fatal("no key in the chunk")
		}
	}
}

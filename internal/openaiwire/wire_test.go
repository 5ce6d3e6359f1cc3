package openaiwire

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParseChat(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    Chat
		wantErr string // param of the expected error, "" for none; "-" for an error without param
	}{
		{name: "minimal", body: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
			want: Chat{Model: "m", PromptChars: 2, LastUser: json.RawMessage(`"hi"`)}},
		{name: "stream with usage", body: `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
			want: Chat{Model: "m", Stream: true, IncludeUsage: true, PromptChars: 2, LastUser: json.RawMessage(`"hi"`)}},
		{name: "image part and tools", body: `{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"max_completion_tokens":7,"messages":[{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]}`,
			want: Chat{Model: "m", HasImages: true, Images: 1, HasTools: true, MaxTokens: 7, PromptChars: 12,
				LastUser: json.RawMessage(`[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]`)}},
		{name: "null content", body: `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[]}]}`,
			want: Chat{Model: "m"}},
		{name: "route kept raw", body: `{"model":"auto","route":{"sort":"price"},"messages":[{"role":"user","content":""}]}`,
			want: Chat{Model: "auto", Route: json.RawMessage(`{"sort":"price"}`), LastUser: json.RawMessage(`""`)}},
		{name: "malformed", body: `{"model":"m",`, wantErr: "-"},
		{name: "not an object", body: `[1,2]`, wantErr: "-"},
		{name: "empty", body: ``, wantErr: "-"},
		{name: "no model", body: `{"messages":[{"role":"user","content":"hi"}]}`, wantErr: "model"},
		{name: "no messages", body: `{"model":"m"}`, wantErr: "messages"},
		{name: "empty messages", body: `{"model":"m","messages":[]}`, wantErr: "messages"},
		{name: "no role", body: `{"model":"m","messages":[{"content":"x"}]}`, wantErr: "messages[0].role"},
		{name: "wrong type", body: `{"model":3,"messages":[]}`, wantErr: "model"},
		{name: "bad content", body: `{"model":"m","messages":[{"role":"user","content":5}]}`, wantErr: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChat([]byte(tt.body))
			if tt.wantErr != "" {
				e, ok := err.(*Error)
				if !ok {
					t.Fatalf("err = %v (%T), want *Error", err, err)
				}
				if tt.wantErr != "-" && e.Param != tt.wantErr {
					t.Fatalf("param = %q, want %q (%s)", e.Param, tt.wantErr, e.Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestRewrite(t *testing.T) {
	tests := []struct {
		name string
		body string
		rw   Rewrite
		want string
	}{
		{"model only, bytes elsewhere kept", `{ "model" : "auto", "x_vendor": {"a":[1, 2]},"messages":[] }`, Rewrite{Model: "gpt-4o"},
			`{ "model" : "gpt-4o", "x_vendor": {"a":[1, 2]},"messages":[] }`},
		{"force usage appends stream_options", `{"model":"a","stream":true}`, Rewrite{Model: "b", ForceUsage: true},
			`{"model":"b","stream":true,"stream_options":{"include_usage":true}}`},
		{"force usage keeps other options", `{"stream_options":{"include_usage":false,"x":1},"model":"a"}`, Rewrite{Model: "b", ForceUsage: true},
			`{"stream_options":{"include_usage":true,"x":1},"model":"b"}`},
		{"drop route in the middle", `{"model":"a","route":{"sort":"price"},"stream":true}`, Rewrite{Model: "b", Drop: []string{"route"}},
			`{"model":"b","stream":true}`},
		{"drop route first", `{"route":{},"model":"a"}`, Rewrite{Model: "b", Drop: []string{"route"}},
			`{"model":"b"}`},
		{"drop route last", `{"model":"a", "route":null}`, Rewrite{Model: "b", Drop: []string{"route"}},
			`{"model":"b"}`},
		{"escaped strings", `{"messages":[{"content":"say \"}\" now"}],"model":"a\"b"}`, Rewrite{Model: "c/d"},
			`{"messages":[{"content":"say \"}\" now"}],"model":"c/d"}`},
		{"missing model is added", `{}`, Rewrite{Model: "m"}, `{"model":"m"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rw.Apply([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			checkPieces(t, tt.rw, []byte(tt.body), got)
		})
	}
}

// checkPieces checks that the pieces of a rewrite, read through Body's
// reader in reads of any size, twice, are the applied rewrite.
func checkPieces(t *testing.T, rw Rewrite, body, want []byte) {
	t.Helper()
	ps, err := rw.Pieces(body)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Len() != len(want) {
		t.Fatalf("Len %d, want %d", ps.Len(), len(want))
	}
	for _, size := range []int{1, 7, 4096} {
		var got []byte
		rd := ps.Reader()
		buf := make([]byte, size)
		for {
			n, err := rd.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil || n == 0 {
				t.Fatalf("read: %d, %v", n, err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("pieces read %d at a time: %s\nwant %s", size, got, want)
		}
	}
}

// FuzzParseChat checks that any body either parses or gives an *Error, and
// that a rewrite of a parsed body is valid JSON equal to the original apart
// from the rewritten members.
func FuzzParseChat(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","stream":true,"stream_options":null,"route":{"sort":"price"},"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`,
		`{"model":"m","messages":[{"role":"user","content":"\u007d"}], "extra": [{"}":"]"}]}`,
		`{"model":"m"}`, `[]`, `{`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseChat(body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		out, err := Rewrite{Model: "x/y", ForceUsage: c.Stream, Drop: []string{"route"}}.Apply(body)
		if err != nil {
			t.Fatalf("rewrite of a valid body failed: %v", err)
		}
		checkPieces(t, Rewrite{Model: "x/y", ForceUsage: c.Stream, Drop: []string{"route"}}, body, out)
		var before, after map[string]any
		if err := json.Unmarshal(body, &before); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("rewritten body is not JSON: %v\n%s", err, out)
		}
		if after["model"] != "x/y" {
			t.Fatalf("model = %v", after["model"])
		}
		if _, ok := after["route"]; ok {
			t.Fatal("route kept")
		}
		delete(before, "route")
		delete(before, "model")
		delete(after, "model")
		if c.Stream {
			so, _ := after["stream_options"].(map[string]any)
			if so["include_usage"] != true {
				t.Fatalf("include_usage not forced: %s", out)
			}
			delete(before, "stream_options")
			delete(after, "stream_options")
		}
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("other members changed:\n%s\n%s", body, out)
		}
	})
}

// bodies for the benchmarks and the differential tests: the shapes the
// gateway meets.
func imageBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"auto","stream":true,"messages":[{"role":"system","content":"You describe pictures."},{"role":"user","content":[{"type":"text","text":"What is in this picture?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,`)
	for b.Len() < size-40 {
		b.WriteString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg")
	}
	b.WriteString(`"}}]}],"max_tokens":300}`)
	return b.Bytes()
}

func textBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"auto","messages":[{"role":"system","content":"Summarise the document."},{"role":"user","content":"`)
	for b.Len() < size-40 {
		b.WriteString(`The quarterly report shows revenue growth of 12% in \"core\" markets, while costs rose by 4%.\nMargins improved; see table 3.\n`)
	}
	b.WriteString(`"}],"temperature":0.2}`)
	return b.Bytes()
}

var smallBody = []byte(`{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"temperature":0.2}`)

func benchBodies() []struct {
	name string
	body []byte
} {
	return []struct {
		name string
		body []byte
	}{{"image1MB", imageBody(1 << 20)}, {"text480KB", textBody(480 << 10)}, {"small", smallBody}}
}

// BenchmarkParseChat compares ParseChat with the encoding/json reference it
// replaced ("before"), and the rewrite the OpenAI adapter applies, on a
// 1 MB body with one base64 image, a 480 KB text prompt and a small body:
//
//	go test -run XXX -bench . -benchmem ./internal/openaiwire
func BenchmarkParseChat(b *testing.B) {
	benchEach(b, []benchFunc{
		{"before", func(body []byte) error { _, err := refParseChat(body); return err }},
		{"after", func(body []byte) error { _, err := ParseChat(body); return err }},
	})
}

// BenchmarkRewrite: Apply copies the body once; Pieces (what the OpenAI
// adapter sends) copies nothing.
func BenchmarkRewrite(b *testing.B) {
	rw := Rewrite{Model: "gpt-4o-mini", ForceUsage: true, Drop: []string{"route"}}
	benchEach(b, []benchFunc{
		{"pieces", func(body []byte) error { _, err := rw.Pieces(body); return err }},
		{"apply", func(body []byte) error { _, err := rw.Apply(body); return err }},
	})
}

// benchFunc is one way of reading a body, benchmarked as body/name.
type benchFunc struct {
	name string
	f    func(body []byte) error
}

// benchEach runs each of fs over each of benchBodies.
func benchEach(b *testing.B, fs []benchFunc) {
	for _, bb := range benchBodies() {
		for _, bf := range fs {
			b.Run(bb.name+"/"+bf.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(bb.body)))
				for b.Loop() {
					if err := bf.f(bb.body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// diffCases are bodies on which ParseChat and the reference are most
// likely to part: key folding, duplicate keys, nulls, escapes, invalid
// UTF-8, surrogates, numbers, nesting.
var diffCases = []string{
	`{"MODEL":"m","Messages":[{"ROLE":"user","Content":"hi"}]}`,
	"{\"model\":\"m\",\"\u017ftream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	"{\"model\":\"m\",\"max_to\u212aens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	`{"mod\u0065l":"m\u00e9","messages":[{"role":"u\u0073er","content":"hi"}]}`,
	`{"model":"m","model":null,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}],"messages":[{"content":"c"}]}`,
	`{"model":"m","messages":[{"role":"user"},{"role":"user"}],"messages":[],"messages":[{"content":"c"}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"ab"}],"content":[{"type":"image_url"}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"ab"}],"content":"xyz"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"ab","content":null}]}`,
	`{"model":"m","messages":[{"role":"user","role":null,"content":[null,{"type":"image\u005furl","text":"\ud83d\ude00\ud800x\n\u00e9"}]}]}`,
	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"\xff\xfe ok \xe2\x82\"}]}]}",
	`{"model":"m","messages":[{"role":"user","content":[{"text":"a","text":null,"type":"image_url","type":null}]}]}`,
	`{"model":"m","stream_options":{"include_usage":true},"stream_options":{},"stream":true,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","stream_options":{"include_usage":true},"stream_options":null,"stream_options":{},"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","stream_options":{"include_usage":null},"stream":null,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":-0,"max_completion_tokens":9223372036854775807,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":1e3,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":9223372036854775808,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":"5","messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","tools":[null,{}],"functions":null,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","tools":[1],"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","tools":{},"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","messages":[1]}`,
	`{"model":"m","messages":[null]}`,
	`{"model":"m","messages":{}}`,
	`{"model":"m","messages":[{"role":1,"content":"x"}]}`,
	`{"model":"m","messages":[{"role":"user","content":{}}]}`,
	`{"model":"m","messages":[{"role":"user","content":[1]}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":1}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"text":[]}]}],"model":5}`,
	`{"model":5,"messages":[{"role":5}]}`,
	`{"model":true,"stream":"yes","messages":[]}`,
	`{"model":"m","stream_options":[],"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","stream_options":{"include_usage":"yes"},"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","route":null,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","Route":{"a":[1,{"b":"}"}]},"messages":[{"role":"user","content":"x"}]}`,
	`null`, `[1,2]`, `"x"`, `5`, `true`, ` {"model":"m","messages":[{"role":"user","content":"x"}]} `,
	`{"model":"m","messages":[{"role":"user","content":"x"}]} x`,
	`{"model":"m","messages":[{"role":"user","content":"x\u00"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x\q"}]}`,
	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\x01\"}]}",
	`{"model":"m","x":01,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","x":-,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","x":1.,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","x":tru,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","x":[1,],"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m",,"messages":[]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],}`,
	`{"model" "m"}`, `{"model":}`, `{`, `{"a":1`, `[`, ``, ` `,
	`{"model":"","messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","messages":[{"role":"","content":"x"}]}`,
	`{"model":"m","messages":[{"role":"assistant","content":null},{"role":"user"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"x":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}],"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
}

// TestParseChatMatchesReference holds ParseChat to the encoding/json
// implementation it replaced, on the bench bodies and the tricky cases.
func TestParseChatMatchesReference(t *testing.T) {
	for _, bb := range benchBodies() {
		compareWithReference(t, bb.body)
	}
	for _, s := range diffCases {
		compareWithReference(t, []byte(s))
	}
}

// TestParseChatLongStrings: in strings long enough for the fast skip
// (plainRun), a quote, an escape, a control byte, a non-ASCII byte or
// invalid UTF-8 at every offset near its edges is read as encoding/json
// reads it, in content (counted), a text part and a skipped member.
func TestParseChatLongStrings(t *testing.T) {
	specials := []string{`\"`, `\\`, `\n`, `\u00e9`, "\x01", "\x1f", "\x7f", "é", "\xff", `\q`, "\u2028"}
	for _, sp := range specials {
		for n := 0; n < 200; n++ {
			s := strings.Repeat("a", n) + sp + strings.Repeat("b", 150-n%150)
			for _, body := range []string{
				`{"model":"m","messages":[{"role":"user","content":"` + s + `"}]}`,
				`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"` + s + `"}]}]}`,
				`{"model":"m","x":"` + s + `","messages":[{"role":"user","content":"x` + s + s + `"}]}`,
			} {
				compareWithReference(t, []byte(body))
			}
		}
	}
}

// FuzzParseChatReference: for any body, ParseChat gives the reference's
// Chat, or an error with the same param where the reference errs.
func FuzzParseChatReference(f *testing.F) {
	for _, s := range diffCases {
		if len(s) < 1000 { // the deep nesting cases slow the fuzzer down
			f.Add([]byte(s))
		}
	}
	f.Add(imageBody(2000))
	f.Add(textBody(2000))
	f.Fuzz(compareWithReference)
}

func compareWithReference(t *testing.T, body []byte) {
	t.Helper()
	want, wantErr := refParseChat(body)
	got, err := ParseChat(body)
	short := body
	if len(short) > 300 {
		short = short[:300]
	}
	switch {
	case wantErr == nil && err == nil:
		if !reflect.DeepEqual(*got, *want) {
			t.Fatalf("body %q:\ngot  %+v\nwant %+v", short, *got, *want)
		}
	case wantErr != nil && err != nil:
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("body %q: err is %T", short, err)
		}
		if we := wantErr.(*Error); e.Param != we.Param {
			t.Fatalf("body %q: param %q (%s), want %q (%s)", short, e.Param, e.Message, we.Param, we.Message)
		}
	default:
		t.Fatalf("body %q: err %v, reference err %v", short, err, wantErr)
	}
}

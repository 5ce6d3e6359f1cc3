package openaiwire

import (
	"encoding/json"
	"reflect"
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
		})
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

package gateway

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
	"github.com/tiergate/tiergate/internal/testing/emulators/openaiemu"
)

// form writes a multipart body of fields (name, value) with a file part
// of data, as the openai clients do, and returns it with its
// Content-Type.
func form(t testing.TB, fields [][2]string, data []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile("file", "speech.wav")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// TestParseAudioForm: the parts routing needs are found where they lie
// in the body; malformed and ambiguous forms are refused with OpenAI's
// 400 naming the part.
func TestParseAudioForm(t *testing.T) {
	body, ct := form(t, [][2]string{{"model", "whisper-1"}, {"language", "en"}, {"response_format", "srt"}}, []byte("RIFF\r\n--fake"))
	f, err := parseAudioForm(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if f.model != "whisper-1" || string(body[f.modelAt[0]:f.modelAt[1]]) != "whisper-1" || f.responseFormat != "srt" || string(f.file) != "RIFF\r\n--fake" {
		t.Errorf("form = %+v", f)
	}
	req := providers.AudioRequest{Model: "whisper-large-v3", Body: body, ModelAt: f.modelAt}
	var got bytes.Buffer
	io.Copy(&got, req.Pieces().Reader())
	if want := bytes.Replace(body, []byte("\r\n\r\nwhisper-1\r\n"), []byte("\r\n\r\nwhisper-large-v3\r\n"), 1); !bytes.Equal(got.Bytes(), want) {
		t.Errorf("rewritten body:\n%q\nwant\n%q", got.Bytes(), want)
	}
	req.Model = "whisper-1"
	if p := req.Pieces(); len(p) != 1 || &p[0][0] != &body[0] {
		t.Error("a model that needs no rewrite is not sent as the client's own bytes")
	}

	noModel, ctNoModel := form(t, [][2]string{{"language", "en"}}, []byte("x"))
	twoModels, ctTwo := form(t, [][2]string{{"model", "whisper-1"}, {"model", "tts-1"}}, []byte("x"))
	badFormat, ctBad := form(t, [][2]string{{"model", "whisper-1"}, {"response_format", "mp3"}}, []byte("x"))
	streamed, ctStream := form(t, [][2]string{{"model", "whisper-1"}, {"stream", "true"}}, []byte("x"))
	var nf bytes.Buffer
	mw := multipart.NewWriter(&nf)
	mw.WriteField("model", "whisper-1")
	mw.Close()
	big, ctBig := form(t, [][2]string{{"model", "whisper-1"}}, make([]byte, maxAudioFile+1))
	for _, tt := range []struct {
		name, ct string
		body     []byte
		status   int
		param    string
	}{
		{"json", "application/json", []byte(`{"model":"whisper-1"}`), 400, ""},
		{"no boundary", "multipart/form-data", body, 400, ""},
		{"other boundary", "multipart/form-data; boundary=zzz", body, 400, ""},
		{"truncated", ct, body[:len(body)-10], 400, ""},
		{"no model", ctNoModel, noModel, 400, "model"},
		{"two models", ctTwo, twoModels, 400, "model"},
		{"no file", mw.FormDataContentType(), nf.Bytes(), 400, "file"},
		{"bad format", ctBad, badFormat, 400, "response_format"},
		{"stream", ctStream, streamed, 400, "stream"},
		{"file over 25 MB", ctBig, big, 413, "file"},
		{"unreadable part", "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n" +
			"--b\r\nContent-Disposition: ;;name=model\r\n\r\ngpt-4o-transcribe\r\n--b\r\nContent-Disposition: form-data; name=file; filename=a.wav\r\n\r\nx\r\n--b--\r\n"), 400, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseAudioForm(tt.ct, tt.body)
			pe, ok := err.(*providers.Error)
			if !ok || pe.Status != tt.status || pe.Param != tt.param || pe.Type != providers.TypeInvalidRequest {
				t.Fatalf("err = %#v, want %d param %q", err, tt.status, tt.param)
			}
		})
	}
}

// FuzzParseAudioForm: whatever the body, the parser does not panic, and
// a form it accepts reads as Go's multipart reader reads it: the same
// model and file.
func FuzzParseAudioForm(f *testing.F) {
	body, ct := form(f, [][2]string{{"model", "whisper-1"}, {"response_format", "json"}}, []byte("RIFF audio"))
	f.Add(body, strings.TrimPrefix(ct, "multipart/form-data; boundary="))
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--b\r\n\r\n\r\n--b\r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n--b--"), "b")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		ct := "multipart/form-data; boundary=\"" + boundary + "\""
		got, err := parseAudioForm(ct, body)
		if err != nil || strings.ContainsAny(boundary, "\"\\\r\n") {
			return
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		var model, file []byte
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("parseAudioForm accepted a form Go's reader refuses (%v): %q", err, body)
			}
			b, _ := io.ReadAll(p)
			switch p.FormName() {
			case "model":
				model = b
			case "file":
				file = b
			}
		}
		if string(model) != got.model || !bytes.Equal(file, got.file) {
			t.Fatalf("model %q file %q; Go's reader: model %q file %q", got.model, got.file, model, file)
		}
	})
}

// wav is a 16-bit mono WAV of seconds of silence at rate.
func wav(seconds float64, rate int) []byte {
	n := int(seconds*float64(rate)) * 2
	return append(openaiemu.WAVHeader(n, rate), make([]byte, n)...)
}

// TestAudioLength: the spend's estimate of an audio file's length when
// the upstream did not give it.
func TestAudioLength(t *testing.T) {
	mp3 := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x02xx"), 0xff, 0xfb, 0x90, 0x64) // 128 kbit/s
	mp3 = append(mp3, make([]byte, 16000-4)...)
	for _, tt := range []struct {
		name string
		b    []byte
		want float64
	}{
		{"wav 2.5 s at 22050 Hz", wav(2.5, 22050), 2.5},
		{"wav with a streamed header (size 0)", func() []byte { b := wav(1, 16000); binary.LittleEndian.PutUint32(b[40:], 0); return b }(), 1},
		{"mp3 at 128 kbit/s", mp3, 1},
		{"unknown", []byte("OggS...."), 0},
		{"truncated wav", wav(1, 16000)[:30], 0},
	} {
		if got := audioLength(tt.b); math.Abs(got-tt.want) > 0.01 {
			t.Errorf("%s: %v s, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSpendCountsAudio: an attempt's audio seconds and characters cost
// at the catalog's per-minute and per-million-character prices.
func TestSpendCountsAudio(t *testing.T) {
	whisper := router.Candidate{Model: &catalog.Model{ID: "whisper-1", Price: catalog.Price{PerMinute: 0.006}}}
	tts := router.Candidate{Model: &catalog.Model{ID: "tts-1", Price: catalog.Price{PerMillionChars: 15}}}
	var sp spend
	sp.add(whisper, &providers.Result{Usage: &providers.Usage{AudioSeconds: 90}})
	if math.Abs(sp.cost-0.009) > 1e-12 || sp.in != 0 || sp.out != 0 {
		t.Errorf("90 s of whisper-1: %+v, want $0.009", sp)
	}
	sp = spend{}
	sp.add(tts, &providers.Result{Usage: &providers.Usage{Characters: 2000}, Timing: providers.Timing{Chunks: 7}})
	if math.Abs(sp.cost-0.03) > 1e-12 || sp.out != 0 {
		t.Errorf("2000 characters of tts-1: %+v, want $0.03 and no tokens", sp)
	}
}

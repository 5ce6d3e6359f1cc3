package openaiemu

// OpenAI's audio endpoints, from its API reference: transcriptions and
// translations take multipart/form-data (file, model, language, prompt,
// response_format json/text/srt/vtt/verbose_json, temperature,
// timestamp_granularities[]) and answer in the format asked for; speech
// takes JSON (model, input, voice, response_format
// mp3/opus/aac/flac/wav/pcm, speed, instructions) and streams the audio.
// The request bytes are in the request log (Requests) as they arrived.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/tiergate/tiergate/internal/testing/emulators/emu"
)

// DefaultTranscript is what a transcription answers when
// AudioOptions.Transcript is empty.
const DefaultTranscript = "Hello from the emulator."

// AudioOptions set the audio endpoints' behaviour.
type AudioOptions struct {
	// Transcript is the text every transcription answers.
	Transcript string
	// NoUsage leaves usage out of json answers (as older Whisper answers
	// and many OpenAI-compatible servers do).
	NoUsage bool
	// Hold, when set, holds a speech answer after its first piece (1024
	// bytes, flushed) until Hold is closed or the client goes away.
	Hold <-chan struct{}
}

// SpeechContentTypes are the Content-Types of speech audio by
// response_format, as OpenAI sends them.
var SpeechContentTypes = map[string]string{"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}

// TranscriptionContentTypes are the Content-Types of transcriptions by
// response_format.
var TranscriptionContentTypes = map[string]string{"json": "application/json", "verbose_json": "application/json",
	"text": "text/plain; charset=utf-8", "srt": "text/plain; charset=utf-8", "vtt": "text/plain; charset=utf-8"}

// modelOf is the request's model: the JSON body's, or a multipart
// form's model part.
func modelOf(r *http.Request, body []byte) string {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return emu.ModelOf(body)
	}
	form, err := readForm(body, params["boundary"])
	if err != nil {
		return ""
	}
	return form["model"]
}

// readForm reads a multipart form's fields (the file's bytes under
// "file"); a repeated field's values are joined with commas.
func readForm(body []byte, boundary string) (map[string]string, error) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	out := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		if v, ok := out[p.FormName()]; ok {
			out[p.FormName()] = v + "," + string(b)
		} else {
			out[p.FormName()] = string(b)
		}
	}
}

// responseFormat is a request's response_format (def when it gave none)
// and its Content-Type in types; for one types does not hold it answers
// OpenAI's 400 (msg, with the format for its %s) and ok is false.
func responseFormat(w http.ResponseWriter, types map[string]string, format, def, msg string) (_, contentType string, ok bool) {
	format = cmp.Or(format, def)
	contentType, ok = types[format]
	if !ok {
		writeError(w, 400, "invalid_request_error", "", "response_format", fmt.Sprintf(msg, format))
	}
	return format, contentType, ok
}

func (s *Server) transcriptions(w http.ResponseWriter, r *http.Request) {
	s.transcribe(w, r, "transcribe")
}
func (s *Server) translations(w http.ResponseWriter, r *http.Request) {
	s.transcribe(w, r, "translate")
}

func (s *Server) transcribe(w http.ResponseWriter, r *http.Request, task string) {
	o := s.Options()
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		writeError(w, 400, "invalid_request_error", "", "", "Invalid Content-Type header ("+r.Header.Get("Content-Type")+"), expected multipart/form-data. (HINT: If you're using curl, you can pass -F 'file=@path/to/file' instead of -d.)")
		return
	}
	form, err := readForm(bodyFrom(r.Context()), params["boundary"])
	if err != nil {
		writeError(w, 400, "invalid_request_error", "", "", "Could not parse multipart form: "+err.Error())
		return
	}
	model, ok := form["model"]
	if !ok {
		writeError(w, 400, "invalid_request_error", "", "model", "you must provide a model parameter")
		return
	}
	file, ok := form["file"]
	if !ok {
		writeError(w, 400, "invalid_request_error", "", "file", "you must provide a file parameter")
		return
	}
	if s.unserved(w, o, model, "") {
		return
	}
	format, ct, ok := responseFormat(w, TranscriptionContentTypes, form["response_format"], "json",
		"'%s' is not one of ['json', 'text', 'srt', 'verbose_json', 'vtt'] - 'response_format'")
	if !ok {
		return
	}
	if !emu.Sleep(r.Context(), o.TTFT) {
		return
	}
	text := o.Audio.Transcript
	if text == "" {
		text = DefaultTranscript
	}
	dur := WAVSeconds([]byte(file))
	usage := map[string]any{"type": "duration", "seconds": math.Ceil(dur)}
	w.Header().Set("Content-Type", ct)
	stamp := func(sec float64, sep string) string {
		ms := int(math.Round(sec * 1000))
		return fmt.Sprintf("%02d:%02d:%02d%s%03d", ms/3600000, ms/60000%60, ms/1000%60, sep, ms%1000)
	}
	switch format {
	case "text":
		io.WriteString(w, text+"\n")
	case "srt":
		fmt.Fprintf(w, "1\n%s --> %s\n%s\n\n", stamp(0, ","), stamp(dur, ","), text)
	case "vtt":
		fmt.Fprintf(w, "WEBVTT\n\n%s --> %s\n%s\n\n", stamp(0, "."), stamp(dur, "."), text)
	case "json":
		out := map[string]any{"text": text}
		if !o.Audio.NoUsage {
			out["usage"] = usage
		}
		json.NewEncoder(w).Encode(out)
	case "verbose_json":
		out := map[string]any{"task": task, "language": "english", "duration": dur, "text": text,
			"segments": []any{map[string]any{"id": 0, "seek": 0, "start": 0.0, "end": dur, "text": " " + text, "tokens": []int{50364, 2425, 50464},
				"temperature": 0.0, "avg_logprob": -0.25, "compression_ratio": 0.9, "no_speech_prob": 0.01}}}
		if strings.Contains(form["timestamp_granularities[]"], "word") {
			ws := strings.Fields(text)
			words := make([]any, len(ws))
			for i, wd := range ws {
				words[i] = map[string]any{"word": wd, "start": dur * float64(i) / float64(len(ws)), "end": dur * float64(i+1) / float64(len(ws))}
			}
			out["words"] = words
		}
		if !o.Audio.NoUsage {
			out["usage"] = usage
		}
		json.NewEncoder(w).Encode(out)
	}
}

// WAVSeconds is a WAV file's length: its data chunk's size over the fmt
// chunk's byte rate (0 when b is not WAV).
func WAVSeconds(b []byte) float64 {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0
	}
	rate := 0.0
	for pos := 12; pos+8 <= len(b); {
		id, size := string(b[pos:pos+4]), int(binary.LittleEndian.Uint32(b[pos+4:]))
		if id == "fmt " && pos+20 <= len(b) {
			rate = float64(binary.LittleEndian.Uint32(b[pos+16:]))
		}
		if id == "data" && rate > 0 {
			return float64(min(size, len(b)-pos-8)) / rate
		}
		pos += 8 + size + size&1
	}
	return 0
}

// Speech is the audio a speech request for input answers in format:
// for wav a real WAV (16-bit mono 24 kHz silence, 50 ms per input
// character), else bytes with the format's magic of the same length.
func Speech(input, format string) []byte {
	n := 24000 * 2 * max(len(input), 1) / 20
	var b []byte
	switch format {
	case "wav":
		b = WAVHeader(n, 24000)
	case "mp3":
		b = []byte("ID3\x04\x00\x00\x00\x00\x00\x00")
	case "flac":
		b = []byte("fLaC")
	case "opus":
		b = []byte("OggS")
	}
	for i := 0; len(b) < n+44; i++ {
		b = append(b, byte(i*31))
	}
	return b
}

// WAVHeader is the 44-byte header of a 16-bit mono PCM WAV file at rate
// (samples a second) whose data is n bytes.
func WAVHeader(n, rate int) []byte {
	b := make([]byte, 44, 44+n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(n))
	return b
}

func (s *Server) speech(w http.ResponseWriter, r *http.Request) {
	o := s.Options()
	var req struct {
		Model          *string  `json:"model"`
		Input          *string  `json:"input"`
		Voice          *string  `json:"voice"`
		ResponseFormat string   `json:"response_format"`
		Speed          *float64 `json:"speed"`
	}
	if err := json.Unmarshal(bodyFrom(r.Context()), &req); err != nil {
		writeError(w, 400, "invalid_request_error", "", "", "We could not parse the JSON body of your request.")
		return
	}
	switch {
	case req.Model == nil:
		writeError(w, 400, "invalid_request_error", "", "model", "you must provide a model parameter")
		return
	case req.Input == nil:
		writeError(w, 400, "invalid_request_error", "", "input", "Missing required parameter: 'input'.")
		return
	case req.Voice == nil:
		writeError(w, 400, "invalid_request_error", "", "voice", "Missing required parameter: 'voice'.")
		return
	case len([]rune(*req.Input)) > 4096:
		writeError(w, 400, "invalid_request_error", "string_above_max_length", "input", "Invalid 'input': string too long. Expected a string with maximum length 4096.")
		return
	case req.Speed != nil && (*req.Speed < 0.25 || *req.Speed > 4):
		writeError(w, 400, "invalid_request_error", "", "speed", "Invalid 'speed': must be between 0.25 and 4.0.")
		return
	}
	if s.unserved(w, o, *req.Model, "") {
		return
	}
	format, ct, ok := responseFormat(w, SpeechContentTypes, req.ResponseFormat, "mp3",
		"Invalid value: '%s'. Supported values are: 'mp3', 'opus', 'aac', 'flac', 'wav', and 'pcm'.")
	if !ok {
		return
	}
	if !emu.Sleep(r.Context(), o.TTFT) {
		return
	}
	audio := Speech(*req.Input, format)
	w.Header().Set("Content-Type", ct)
	fl := w.(http.Flusher)
	first := min(len(audio), 1024)
	if _, err := w.Write(audio[:first]); err != nil {
		return
	}
	fl.Flush()
	if o.Audio.Hold != nil {
		select {
		case <-o.Audio.Hold:
		case <-r.Context().Done():
			return
		case <-s.Done():
			return
		}
	}
	for i, rest := 1, audio[first:]; len(rest) > 0; i++ {
		// Audio has no error event: a failure cuts the connection.
		if !next(r, w, o, i, func() { emu.Reset(w) }) {
			return
		}
		n := min(len(rest), 8192)
		if _, err := w.Write(rest[:n]); err != nil {
			return
		}
		fl.Flush()
		rest = rest[n:]
	}
}

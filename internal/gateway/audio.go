package gateway

// The speech tasks, OpenAI's audio endpoints:
//
//   - POST /v1/audio/transcriptions and /v1/audio/translations take a
//     multipart/form-data body (file, model, language, prompt,
//     response_format, temperature, timestamp_granularities[], ...). It is
//     read once; parseAudioForm finds the parts routing needs without
//     decoding the body, and the upstream receives it byte for byte (same
//     boundary, same parts), but for the model part's value when the
//     catalog's upstream name differs. The answer passes back whole with
//     its Content-Type. Task speech-to-text.
//   - POST /v1/audio/speech takes OpenAI JSON (model, input, voice,
//     response_format, speed, instructions); the audio is copied to the
//     client as it arrives, each read flushed. Task text-to-speech.
//
// Both route like chat (profiles, auto, auto:<profile>, the key's
// policy) and fall back before the first byte reaches the client.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tiergate/tiergate/internal/catalog"
	"github.com/tiergate/tiergate/internal/keys"
	"github.com/tiergate/tiergate/internal/providers"
	"github.com/tiergate/tiergate/internal/router"
)

// maxAudioFile is OpenAI's limit on an uploaded audio file (25 MB).
const maxAudioFile = 25 << 20

// transcriptionFormats and speechFormats are the response_format values
// OpenAI's reference lists.
var (
	transcriptionFormats = []string{"json", "text", "srt", "verbose_json", "vtt"}
	speechFormats        = []string{"mp3", "opus", "aac", "flac", "wav", "pcm"}
)

// audioForm is what the gateway reads of a transcription's multipart
// body: the parts routing and validation need, as spans of the body.
type audioForm struct {
	model          string
	modelAt        [2]int // the model part's value in the body
	hasFile        bool
	file           []byte // the file part's bytes (a slice of the body)
	responseFormat string
	stream         string
}

// formError is a malformed multipart body.
func formError(msg string) *providers.Error {
	return providers.BadRequest("invalid multipart/form-data body: "+msg, "")
}

// parseAudioForm reads a multipart/form-data body as RFC 7578 writes it
// (CRLF line ends, parts between --boundary delimiters) without copying
// it. A part named twice among those it reads (model, file,
// response_format, stream) is refused: the upstream might read the other.
func parseAudioForm(contentType string, body []byte) (*audioForm, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" {
		return nil, providers.BadRequest("the request must be multipart/form-data (with a file part and a model part), as OpenAI's audio endpoints take it; Content-Type was "+strconv.Quote(contentType), "")
	}
	boundary := params["boundary"]
	if boundary == "" || len(boundary) > 70 {
		return nil, formError("the Content-Type has no valid boundary")
	}
	delim := []byte("--" + boundary)
	// The first delimiter opens the body or follows a preamble's CRLF.
	pos := 0
	if !bytes.HasPrefix(body, delim) {
		i := bytes.Index(body, append([]byte("\r\n"), delim...))
		if i < 0 {
			return nil, formError("no part starts with the boundary")
		}
		pos = i + 2
	}
	next := append([]byte("\r\n"), delim...)
	f := &audioForm{modelAt: [2]int{-1, -1}}
	seen := map[string]bool{}
	for {
		pos += len(delim)
		if bytes.HasPrefix(body[pos:], []byte("--")) {
			return f, f.check()
		}
		// Transport padding, then the CRLF that ends the delimiter line.
		for pos < len(body) && (body[pos] == ' ' || body[pos] == '\t') {
			pos++
		}
		if !bytes.HasPrefix(body[pos:], []byte("\r\n")) {
			return nil, formError("a boundary line does not end in CRLF")
		}
		pos += 2
		hdr, start := textproto.MIMEHeader{}, pos+2
		if !bytes.HasPrefix(body[pos:], []byte("\r\n")) { // else a part without headers
			end := bytes.Index(body[pos:], []byte("\r\n\r\n"))
			if end < 0 {
				return nil, formError("a part's headers do not end")
			}
			start = pos + end + 4
			hdr, err = textproto.NewReader(bufio.NewReader(bytes.NewReader(body[pos:start]))).ReadMIMEHeader()
			if err != nil {
				return nil, formError("a part's headers cannot be read: " + err.Error())
			}
		}
		stop := bytes.Index(body[start:], next)
		if stop < 0 {
			return nil, formError("the body ends before its closing boundary")
		}
		stop += start
		// A part the gateway cannot name might be what the upstream
		// reads as the model: refused rather than skipped.
		_, dp, err := mime.ParseMediaType(hdr.Get("Content-Disposition"))
		if err != nil {
			return nil, formError("a part's Content-Disposition cannot be read: " + err.Error())
		}
		if name := dp["name"]; name != "" {
			switch name {
			case "model", "file", "response_format", "stream":
				if seen[name] {
					return nil, providers.BadRequest("the form has more than one "+name+" part", name)
				}
				seen[name] = true
			}
			v := body[start:stop]
			switch name {
			case "model":
				f.model, f.modelAt = string(v), [2]int{start, stop}
			case "file":
				f.hasFile, f.file = true, v
			case "response_format":
				f.responseFormat = string(v)
			case "stream":
				f.stream = string(v)
			}
		}
		pos = stop + 2
	}
}

// check holds the form to OpenAI's rules for what the gateway reads.
func (f *audioForm) check() error {
	switch {
	case f.modelAt[0] < 0:
		return providers.BadRequest("you must provide a model parameter", "model")
	case !f.hasFile:
		return providers.BadRequest("you must provide a file parameter (the audio, as a file part)", "file")
	case len(f.file) > maxAudioFile:
		return &providers.Error{Status: http.StatusRequestEntityTooLarge, Type: providers.TypeInvalidRequest, Param: "file",
			Message: "Maximum content size limit (" + strconv.Itoa(maxAudioFile) + ") exceeded (" + strconv.Itoa(len(f.file)) + " bytes read)"}
	case f.responseFormat != "" && !slices.Contains(transcriptionFormats, f.responseFormat):
		return providers.BadRequestf("response_format", "'%s' is not one of %s - 'response_format'", f.responseFormat, strings.Join(transcriptionFormats, ", "))
	case f.stream != "" && f.stream != "false":
		return providers.Unsupported("tiergate", "stream", "the gateway passes transcriptions back whole; leave stream out")
	}
	return nil
}

// audioBodyError adds to a too-large error that OpenAI takes files up
// to 25 MB, when the gateway's own limit is below that.
func (s *Server) audioBodyError(err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Status == http.StatusRequestEntityTooLarge && s.maxBody < maxAudioFile+1<<20 {
		e := *pe
		e.Message += "; OpenAI's audio endpoints take files up to 25 MB: raise server.max_body_bytes to " + strconv.Itoa(maxAudioFile+3<<20) + " to accept them"
		return &e
	}
	return err
}

// routeAudio routes an audio request for model and holds what the key
// may spend (no tokens: the budget check alone), answering the error
// itself; ok is false then.
func (s *Server) routeAudio(w http.ResponseWriter, r *http.Request, model string, task catalog.Task, route json.RawMessage) (*router.Query, *router.Decision, keys.Settle, bool) {
	rt, err := s.router.ParseRoute(route)
	q := &router.Query{Model: model, Profile: r.Header.Get("X-Tiergate-Profile"), Domain: r.Header.Get("X-Tiergate-Domain"), Route: rt, Task: task}
	if err == nil {
		err = s.applyPolicy(r.Context(), q)
	}
	var dec *router.Decision
	if err == nil {
		dec, err = s.route(r.Context(), q)
	}
	var held keys.Settle
	if err == nil {
		held, err = s.reserve(w, r, dec, 0, 0)
	}
	if err != nil {
		refuse(w, err)
		return nil, nil, nil, false
	}
	s.metrics.RouteDecision(dec.Profile, decisionKind(dec))
	return q, dec, held, true
}

// refuse answers err for a request no backend was tried for.
func refuse(w http.ResponseWriter, err error) {
	w.Header().Set("X-Tiergate-Attempts", "0")
	writeError(w, err)
}

func (s *Server) handleTranscription(w http.ResponseWriter, r *http.Request) {
	s.transcribe(w, r, false)
}

func (s *Server) handleTranslation(w http.ResponseWriter, r *http.Request) {
	s.transcribe(w, r, true)
}

func (s *Server) transcribe(w http.ResponseWriter, r *http.Request, translation bool) {
	t0 := time.Now()
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, s.audioBodyError(err))
		return
	}
	ct := r.Header.Get("Content-Type")
	form, err := parseAudioForm(ct, body)
	if err != nil {
		writeError(w, err)
		return
	}
	q, dec, held, ok := s.routeAudio(w, r, form.model, catalog.SpeechToText, nil)
	if !ok {
		return
	}
	op := "transcriptions"
	if translation {
		op = "translations"
	}
	cfg := s.router.Config()
	var contentType string
	res, c, attempts, err := s.try(r, op, t0, q, dec, false, held, func(ctx context.Context, c router.Candidate, _ int, deadline time.Duration) (*providers.Result, error) {
		tr, ok := c.Provider.(providers.Transcriber)
		if !ok { // backends.Build refuses such a catalog entry; kept safe all the same
			return nil, providers.Unsupported(c.Model.Provider, "model", "its adapter does not serve speech-to-text")
		}
		req := &providers.AudioRequest{Model: c.Model.Upstream, Translation: translation, Body: body, ContentType: ct, ModelAt: form.modelAt}
		// Transcribing takes time in proportion to the audio, which the
		// backend's latency record does not know: wait ttft_timeout at least.
		ar, timedOut, err := bounded(ctx, cfg, max(deadline, cfg.TTFTTimeout), "first byte", func(ctx context.Context, first func()) (*providers.AudioResult, error) {
			req.OnFirstByte = first
			return tr.Transcribe(ctx, req)
		})
		if timedOut != "" {
			err = providers.Timeout(c.Model.Provider, c.Model.Provider+" ("+c.Model.ID+") "+timedOut)
		}
		if ar == nil {
			return nil, err
		}
		contentType = ar.ContentType
		if ar.Usage == nil || ar.Usage.AudioSeconds <= 0 {
			if sec := audioLength(form.file); sec > 0 {
				ar.Usage = &providers.Usage{AudioSeconds: sec}
			}
		}
		return &ar.Result, err
	}, func() bool { return false })
	writeWhole(w, r, dec, cmp.Or(contentType, "application/json"), res, c, attempts, err)
}

// speechBody is what the gateway reads of a speech request.
type speechBody struct {
	Model          *string         `json:"model"`
	Input          *string         `json:"input"`
	ResponseFormat string          `json:"response_format"`
	Route          json.RawMessage `json:"route"`
}

// check holds the body to OpenAI's rules for what the gateway reads.
func (sb *speechBody) check() error {
	switch {
	case sb.Model == nil:
		return providers.BadRequest("you must provide a model parameter", "model")
	case sb.Input == nil:
		return providers.BadRequest("you must provide an input parameter (the text to speak)", "input")
	case sb.ResponseFormat != "" && !slices.Contains(speechFormats, sb.ResponseFormat):
		return providers.BadRequestf("response_format", "'%s' is not one of %s - 'response_format'", sb.ResponseFormat, strings.Join(speechFormats, ", "))
	}
	return nil
}

func (s *Server) handleSpeech(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var sb speechBody
	if err := json.Unmarshal(body, &sb); err != nil {
		writeError(w, providers.BadRequest("We could not parse the JSON body of your request: "+err.Error(), ""))
		return
	}
	if err := sb.check(); err != nil {
		refuse(w, err)
		return
	}
	q, dec, held, ok := s.routeAudio(w, r, *sb.Model, catalog.TextToSpeech, sb.Route)
	if !ok {
		return
	}
	chars := utf8.RuneCountInString(*sb.Input)
	cfg := s.router.Config()
	sink := &audioSink{w: w, dec: dec}
	_, c, attempts, err := s.try(r, "speech", t0, q, dec, true, held, func(ctx context.Context, c router.Candidate, attempt int, deadline time.Duration) (*providers.Result, error) {
		sp, ok := c.Provider.(providers.Speaker)
		if !ok { // backends.Build refuses such a catalog entry; kept safe all the same
			return nil, providers.Unsupported(c.Model.Provider, "model", "its adapter does not serve text-to-speech")
		}
		sink.cand, sink.attempt = c, attempt
		req := &providers.SpeechRequest{Model: c.Model.Upstream, Body: body}
		res, timedOut, err := bounded(ctx, cfg, deadline, "first byte", func(ctx context.Context, first func()) (*providers.Result, error) {
			sink.onFirst = first // the first audio, not the headers, is a stream's first byte
			return sp.Speech(ctx, req, sink)
		})
		if timedOut != "" {
			err = providers.Timeout(c.Model.Provider, c.Model.Provider+" ("+c.Model.ID+") "+timedOut)
		}
		if res != nil {
			// The upstream bills the input it was given, audio sent or not.
			res.Usage = &providers.Usage{Characters: chars}
		}
		return res, err
	}, func() bool { return sink.started })
	switch {
	case err == nil && !sink.started:
		sink.start() // no audio at all: an empty 200
	case err == nil:
	case r.Context().Err() != nil:
	case sink.started:
		// Audio reached the client and broke off: end the response
		// unfinished, so the client sees a cut, not a shorter file.
		s.log.Warn("speech stream broke", "model", c.Model.ID, "err", providers.AsError(c.Model.Provider, err).Message)
		panic(http.ErrAbortHandler)
	default:
		w.Header().Set("X-Tiergate-Attempts", strconv.Itoa(attempts))
		writeError(w, providers.AsError("", err))
	}
}

// audioSink copies speech audio to the client, flushing each write. The
// response starts with the first audio bytes, so an upstream that fails
// before sending any can still fall back.
type audioSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	dec     *router.Decision
	cand    router.Candidate
	attempt int
	ct      string
	onFirst func()
	started bool
}

func (a *audioSink) SetContentType(ct string) { a.ct = ct }

func (a *audioSink) start() {
	h := a.w.Header()
	ct := a.ct
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if a.cand.Model != nil {
		setRouteHeaders(h, a.dec, a.cand, a.attempt)
	}
	a.w.WriteHeader(http.StatusOK)
	a.rc = http.NewResponseController(a.w)
	a.started = true
}

func (a *audioSink) Write(p []byte) (int, error) {
	if !a.started {
		if a.onFirst != nil {
			a.onFirst()
		}
		a.start()
	}
	n, err := a.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, a.rc.Flush()
}

// audioLength estimates an audio file's length in seconds from its
// header, for the spend of an upstream that did not say: a WAV file's
// data size over its byte rate, an MP3 file's size over its first
// frame's bit rate (exact for constant bit rate). 0 when unknown.
func audioLength(b []byte) float64 {
	if sec := wavSeconds(b); sec > 0 {
		return sec
	}
	return mp3Seconds(b)
}

// wavSeconds reads a RIFF/WAVE header: the fmt chunk's byte rate and the
// data chunk's size (or what the file holds, for a streamed WAV whose
// header says 0 or more than there is).
func wavSeconds(b []byte) float64 {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0
	}
	var rate uint32
	for pos := 12; pos+8 <= len(b); {
		id, size := string(b[pos:pos+4]), binary.LittleEndian.Uint32(b[pos+4:pos+8])
		body := pos + 8
		switch id {
		case "fmt ":
			if body+12 <= len(b) {
				rate = binary.LittleEndian.Uint32(b[body+8 : body+12])
			}
		case "data":
			if rate == 0 {
				return 0
			}
			n := uint64(len(b) - body)
			if size > 0 && uint64(size) < n {
				n = uint64(size)
			}
			return float64(n) / float64(rate)
		}
		pos = body + int(size) + int(size&1)
		if pos < body { // overflow
			return 0
		}
	}
	return 0
}

// mpegBitrates is MPEG-1 Layer III's bit rate table (kbit/s), by index.
var mpegBitrates = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}

// mp3Seconds estimates an MPEG-1 Layer III file's length from the bit
// rate of its first frame, after an ID3v2 tag if any.
func mp3Seconds(b []byte) float64 {
	start := 0
	if len(b) >= 10 && string(b[:3]) == "ID3" {
		size := int(b[6]&0x7f)<<21 | int(b[7]&0x7f)<<14 | int(b[8]&0x7f)<<7 | int(b[9]&0x7f)
		start = 10 + size
	}
	if start+4 > len(b) {
		return 0
	}
	h := b[start : start+4]
	// Sync (11 bits), MPEG-1 (11), Layer III (01).
	if h[0] != 0xff || h[1]&0xfe != 0xfa {
		return 0
	}
	kbps := mpegBitrates[h[2]>>4]
	if kbps == 0 {
		return 0
	}
	return float64(len(b)-start) * 8 / float64(kbps*1000)
}

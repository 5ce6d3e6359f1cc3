package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

// The speech tasks pass through like chat: OpenAI, Groq (Whisper) and
// the OpenAI-compatible speech servers (Speaches, LocalAI, whisper.cpp's
// server at /v1/audio/transcriptions) all take OpenAI's wire.
var (
	_ providers.Transcriber = (*Provider)(nil)
	_ providers.Speaker     = (*Provider)(nil)
)

// audioChunk is the piece speech audio is copied in.
const audioChunk = 32 << 10

// Transcribe forwards a transcription or translation: the client's
// multipart body byte for byte, but for the model part's value when the
// upstream's name differs. The answer (json, text, srt, vtt or
// verbose_json) passes back whole with its Content-Type; the audio's
// length is read from verbose_json's duration or a usage of type
// duration when the answer is JSON.
func (p *Provider) Transcribe(ctx context.Context, r *providers.AudioRequest) (*providers.AudioResult, error) {
	path := "/audio/transcriptions"
	if r.Translation {
		path = "/audio/translations"
	}
	req, err := p.newRequest(ctx, http.MethodPost, path, r.Pieces())
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", r.ContentType)
	res := &providers.AudioResult{}
	resp, err := p.send(req, &res.Timing, false, r.FirstByte)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUnary))
	res.Timing.End = time.Now()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.transportError(err)
	}
	res.ContentType = p.scrub(resp.Header.Get("Content-Type"))
	res.Body = p.red.Guard(b)
	if mt, _, _ := mime.ParseMediaType(res.ContentType); mt == "application/json" || (mt == "" && json.Valid(b)) {
		if s := audioSeconds(b); s > 0 {
			res.Usage = &providers.Usage{AudioSeconds: s}
		}
	}
	return res, nil
}

// audioSeconds is the audio length a transcription answer reports: its
// usage when of type duration (OpenAI's newer answers), else
// verbose_json's duration; 0 when it gives neither.
func audioSeconds(b []byte) float64 {
	var probe struct {
		Duration json.Number `json:"duration"`
		Usage    *struct {
			Type    string  `json:"type"`
			Seconds float64 `json:"seconds"`
		} `json:"usage"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return 0
	}
	if u := probe.Usage; u != nil && u.Type == "duration" && u.Seconds > 0 {
		return u.Seconds
	}
	d, _ := probe.Duration.Float64()
	return max(d, 0)
}

// Speech forwards a text-to-speech request (the JSON body with model
// rewritten and the gateway's "route" dropped) and copies the audio to
// sink as it arrives, a read at a time.
func (p *Provider) Speech(ctx context.Context, r *providers.SpeechRequest, sink providers.AudioSink) (*providers.Result, error) {
	resp, res, err := p.post(ctx, "/audio/speech", r.Body, r.Model, false, r.FirstByte)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	ct := p.scrub(resp.Header.Get("Content-Type"))
	if mt, _, _ := mime.ParseMediaType(ct); mt == "application/json" || mt == "text/plain" || mt == "text/html" {
		// Some servers answer 200 with an error body instead of audio
		// (text/event-stream is audio: stream_format "sse").
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, providers.Upstream(p.name, p.name+" answered a speech request with "+ct+" instead of audio: "+truncate(p.scrub(string(b)), 200), true)
	}
	sink.SetContentType(ct)
	buf := make([]byte, audioChunk)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if res.Timing.FirstToken.IsZero() {
				res.Timing.FirstToken = time.Now()
			}
			res.Timing.Chunks++
			if _, werr := sink.Write(buf[:n]); werr != nil {
				res.Timing.End = time.Now()
				return res, werr
			}
		}
		if err == io.EOF {
			res.Timing.End = time.Now()
			return res, nil
		}
		if err != nil {
			res.Timing.End = time.Now()
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return res, providers.Upstream(p.name, p.name+" closed the audio stream before its end", res.Timing.Chunks == 0)
			}
			e := p.transportError(err)
			e.Retryable = res.Timing.Chunks == 0
			return res, e
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

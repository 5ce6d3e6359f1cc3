package providers

import (
	"context"
	"io"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// The speech tasks are optional: an adapter that serves them implements
// Transcriber (speech-to-text) or Speaker (text-to-speech) beside
// Provider. backends.Build refuses a catalog entry whose task its
// provider's adapter does not serve, so the router never picks one.
// Their errors are *Error, as Chat's are, so fallback and the breakers
// treat an audio failure like any other.

// Transcriber is an adapter that turns speech into text: OpenAI's
// /v1/audio/transcriptions and /v1/audio/translations.
type Transcriber interface {
	// Transcribe sends req upstream and returns the whole answer in
	// Result.Body, in the format the form asked for (json, text, srt,
	// vtt, verbose_json), with its Content-Type in Result.ContentType.
	// Result.Usage.AudioSeconds is the audio's length when the upstream
	// told it (verbose_json's duration, or a usage of type duration).
	Transcribe(ctx context.Context, req *AudioRequest) (*AudioResult, error)
}

// Speaker is an adapter that turns text into speech: OpenAI's
// /v1/audio/speech.
type Speaker interface {
	// Speech sends req upstream and copies the audio to sink as it
	// arrives. An error returned after sink.Write was called means the
	// audio broke off (nothing can be retried then).
	Speech(ctx context.Context, req *SpeechRequest, sink AudioSink) (*Result, error)
}

// AudioSink receives streamed audio: SetContentType once, with the
// upstream's Content-Type, before the first Write; each Write is sent to
// the client (and flushed) before it returns. The slice is only valid
// during the call.
type AudioSink interface {
	SetContentType(contentType string)
	io.Writer
}

// AudioRequest is a transcription or translation as the client sent it:
// a multipart/form-data body, forwarded byte for byte.
type AudioRequest struct {
	// Model is the upstream model name to ask for.
	Model string
	// Translation selects /audio/translations (into English) rather
	// than /audio/transcriptions.
	Translation bool
	// Body is the client's multipart body; adapters must not modify it.
	// ContentType is its Content-Type header, boundary included.
	Body        []byte
	ContentType string
	// ModelAt is where the model part's value lies in Body
	// (Body[ModelAt[0]:ModelAt[1]]).
	ModelAt [2]int
	// OnFirstByte, when set, is called once when the upstream's response
	// headers arrive.
	OnFirstByte func()
}

// FirstByte calls r.OnFirstByte if it is set.
func (r *AudioRequest) FirstByte() {
	if r.OnFirstByte != nil {
		r.OnFirstByte()
	}
}

// Pieces is the body to send upstream: Body itself when its model part
// already names r.Model, else Body with only that part's value replaced
// by r.Model (same boundary, same parts, same bytes around it).
func (r *AudioRequest) Pieces() openaiwire.Body {
	at := r.ModelAt
	if at[0] < 0 || at[1] > len(r.Body) || at[0] > at[1] || string(r.Body[at[0]:at[1]]) == r.Model {
		return openaiwire.Body{r.Body}
	}
	return openaiwire.Body{r.Body[:at[0]], []byte(r.Model), r.Body[at[1]:]}
}

// AudioResult is a finished transcription: Result with the answer's
// Content-Type, which passes back to the client.
type AudioResult struct {
	Result
	ContentType string
}

// SpeechRequest is a text-to-speech request as the client sent it: OpenAI
// JSON (model, input, voice, response_format, speed, instructions).
type SpeechRequest struct {
	// Model is the upstream model name to ask for.
	Model string
	// Body is the client's JSON body; adapters must not modify it.
	Body []byte
	// OnFirstByte, when set, is called once when the upstream's response
	// headers arrive.
	OnFirstByte func()
}

// FirstByte calls r.OnFirstByte if it is set.
func (r *SpeechRequest) FirstByte() {
	if r.OnFirstByte != nil {
		r.OnFirstByte()
	}
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/providers"
)

// Token count methods, best first.
const (
	MethodUsage     = "usage"     // the server's own count (usage, eval_count)
	MethodTokenizer = "tokenizer" // the generated text counted with an offline BPE tokenizer
	MethodChunks    = "chunks"    // one token per content chunk
)

// Record is one measured request.
type Record struct {
	// Index numbers the request within its step (arrival order).
	Index int
	// Repeat numbers the repeat of the measurement it belongs to
	// (1-based).
	Repeat int
	// Start is when the request was sent; End when its last byte came.
	Start, End time.Time
	// OK is false for a failed request; Err says why.
	OK  bool
	Err *Failure
	// TTFT is the time to the first chunk carrying generated content
	// (text, reasoning or a tool-call piece); zero when none came.
	TTFT time.Duration
	// TTFNRT is the time to the first non-reasoning content (text or a
	// tool call); set only when reasoning came first.
	TTFNRT time.Duration
	// E2E is the whole request, send to last byte.
	E2E time.Duration
	// ITL holds the gaps between consecutive content chunks.
	ITL []time.Duration
	// Chunks counts content chunks.
	Chunks int
	// OutputTokens and TokenMethod: the count and how it was obtained.
	OutputTokens int
	TokenMethod  string
	// PromptTokens is the server's prompt count (0 when not reported).
	PromptTokens int
	FinishReason string
	// Upstream holds the server's own timings (Ollama's load_duration,
	// prompt_eval_duration, eval_duration, total_duration).
	Upstream map[string]time.Duration

	text      []byte // generated text, for the tokenizer; dropped after counting
	answer    string // the answer's text, kept for a multi-turn workload's next turn
	tokenizer string // the tokenizer's name, with MethodTokenizer

	// sendLag is from when the request was due to when it was sent;
	// readLag, per chunk, from the socket read that brought it to its
	// timestamp (none without the bench's HTTP client). See ClientLag.
	sendLag time.Duration
	readLag []time.Duration
}

// TPOT is the time per output token after the first:
// (E2E - TTFT) / (output tokens - 1); false when undefined (fewer than two
// tokens).
func (r *Record) TPOT() (time.Duration, bool) {
	if !r.OK || r.OutputTokens < 2 || r.E2E <= r.TTFT {
		return 0, false
	}
	return (r.E2E - r.TTFT) / time.Duration(r.OutputTokens-1), true
}

// TokensPerSecond is the request's output rate after the first token:
// (output tokens - 1) / (E2E - TTFT); false when undefined.
func (r *Record) TokensPerSecond() (float64, bool) {
	if !r.OK || r.OutputTokens < 2 || r.E2E <= r.TTFT {
		return 0, false
	}
	return float64(r.OutputTokens-1) / (r.E2E - r.TTFT).Seconds(), true
}

// UpstreamTokensPerSecond is the server's own decode rate, output tokens
// over its eval_duration (Ollama), when it reported both.
func (r *Record) UpstreamTokensPerSecond() (float64, bool) {
	d := r.Upstream["eval_duration"]
	if !r.OK || d <= 0 || r.TokenMethod != MethodUsage || r.OutputTokens < 1 {
		return 0, false
	}
	return float64(r.OutputTokens) / d.Seconds(), true
}

// recorder is the Sink of one request. Chunk only timestamps the chunk
// and copies it; parsing waits until the stream has ended (analyze), so
// the per-chunk path is a clock read and two appends, with no lock: a
// recorder belongs to one request.
type recorder struct {
	times []time.Time // arrival of each chunk
	data  []byte      // the chunks, one after another
	ends  []int       // end offset of each chunk in data
	live  *atomic.Int64
	// conn is the request's connection, when it is the bench's
	// (timedConn); lags the read lag of each chunk.
	conn atomic.Pointer[timedConn]
	lags []time.Duration
	// slow, in tests, delays the reader before its timestamp.
	slow func()
}

func newRecorder(maxTokens int, live *atomic.Int64) *recorder {
	n := maxTokens + 8
	return &recorder{times: make([]time.Time, 0, n), ends: make([]int, 0, n), data: make([]byte, 0, min(n*256, 16<<10)), live: live}
}

// Chunk records one chat.completion.chunk.
func (r *recorder) Chunk(data []byte) error {
	if r.slow != nil {
		r.slow()
	}
	now := time.Now()
	if c := r.conn.Load(); c != nil {
		if at := c.lastRead(); !at.IsZero() && !at.After(now) {
			if r.lags == nil {
				r.lags = make([]time.Duration, 0, cap(r.times))
			}
			r.lags = append(r.lags, now.Sub(at))
		}
	}
	r.times = append(r.times, now)
	r.data = append(r.data, data...)
	r.ends = append(r.ends, len(r.data))
	if r.live != nil {
		r.live.Add(1)
	}
	return nil
}

// stream is what a recorded stream held.
type stream struct {
	content     []time.Time // arrival of each chunk carrying generated content
	firstAnswer time.Time   // first text or tool-call chunk
	reasoning   bool        // reasoning came before any answer
	text        []byte      // generated text, for the tokenizer
	badChunks   int
}

// analyze parses the recorded chunks.
func (r *recorder) analyze() stream {
	var s stream
	begin := 0
	for i, end := range r.ends {
		content, answer, bad := parseChunk(r.data[begin:end], &s.text, s.firstAnswer.IsZero(), &s.reasoning)
		begin = end
		if bad {
			s.badChunks++
		}
		if content {
			s.content = append(s.content, r.times[i])
		}
		if answer && s.firstAnswer.IsZero() {
			s.firstAnswer = r.times[i]
		}
	}
	return s
}

// chunkProbe is what the recorder reads of an OpenAI chunk.
type chunkProbe struct {
	Choices []struct {
		Delta struct {
			Content          *string         `json:"content"`
			ReasoningContent *string         `json:"reasoning_content"`
			Reasoning        *string         `json:"reasoning"`
			ToolCalls        json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
}

type toolCallPiece struct {
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// parseChunk reads a chunk: content reports generated content of any
// kind, answer content that is not reasoning, bad a chunk that is not
// JSON. Generated text is appended to text; reasoning is set when
// reasoning arrives while noAnswerYet.
func parseChunk(data []byte, text *[]byte, noAnswerYet bool, reasoning *bool) (content, answer, bad bool) {
	var c chunkProbe
	if err := json.Unmarshal(data, &c); err != nil {
		return false, false, true
	}
	for i := range c.Choices {
		d := &c.Choices[i].Delta
		for _, s := range []*string{d.ReasoningContent, d.Reasoning} {
			if s != nil && *s != "" {
				content = true
				if noAnswerYet && !answer {
					*reasoning = true
				}
				*text = append(*text, *s...)
			}
		}
		if d.Content != nil && *d.Content != "" {
			content, answer = true, true
			*text = append(*text, *d.Content...)
		}
		if len(d.ToolCalls) > 0 && string(d.ToolCalls) != "null" && string(d.ToolCalls) != "[]" {
			content, answer = true, true
			var calls []toolCallPiece
			if json.Unmarshal(d.ToolCalls, &calls) == nil {
				for _, tc := range calls {
					*text = append(*text, tc.Function.Name...)
					*text = append(*text, tc.Function.Arguments...)
				}
			}
		}
	}
	return content, answer, false
}

// testHooks slow the bench down in tests, to check that a client that
// cannot keep up is caught (ClientLag).
type testHooks struct {
	beforeSend func() // before a request is sent, after it was due
	onChunk    func() // as a chunk arrives, before its timestamp
}

// do sends one request, due at due, and measures it.
func (e *engine) do(ctx context.Context, t *Target, p Prompt, idx int, due time.Time, live *Live) Record {
	body, maxTokens := requestBody(t.Upstream, p, e.o.MaxTokens)
	rc := newRecorder(maxTokens, &live.chunks)
	rctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	if h := e.o.hooks; h != nil {
		rc.slow = h.onChunk
		if h.beforeSend != nil {
			h.beforeSend()
		}
	}
	rctx = withConn(rctx, func(c net.Conn) {
		if tc := timedConnOf(c); tc != nil {
			rc.conn.Store(tc)
		}
	})
	req := &providers.ChatRequest{Model: t.Upstream, Body: body, Stream: true, IncludeUsage: true}
	live.inFlight.Add(1)
	start := time.Now()
	res, err := t.Client.Chat(rctx, req, rc)
	end := time.Now()
	live.inFlight.Add(-1)

	rec := Record{Index: idx, Start: start, End: end}
	if res != nil {
		// The adapter's own marks are closer to the wire: its Start is
		// taken once the request is built, its End at the last byte.
		if s := res.Timing.Start; !s.IsZero() && !s.Before(start) && s.Before(end) {
			rec.Start = s
		}
		if f := res.Timing.End; !f.IsZero() && f.After(rec.Start) && !f.After(end) {
			rec.End = f
		}
		rec.FinishReason = res.FinishReason
		rec.Upstream = res.Timing.Upstream
		if res.Usage != nil {
			rec.PromptTokens = res.Usage.PromptTokens
		}
	}
	rec.E2E = rec.End.Sub(rec.Start)
	rec.sendLag = max(0, rec.Start.Sub(due))
	rec.readLag = rc.lags
	st := rc.analyze()
	// The live count took every chunk; keep only content chunks.
	live.chunks.Add(int64(len(st.content) - len(rc.times)))
	rec.Chunks = len(st.content)
	if len(st.content) > 0 {
		rec.TTFT = st.content[0].Sub(rec.Start)
		if st.reasoning && !st.firstAnswer.IsZero() {
			rec.TTFNRT = st.firstAnswer.Sub(rec.Start)
		}
		rec.ITL = make([]time.Duration, len(st.content)-1)
		for i := 1; i < len(st.content); i++ {
			rec.ITL[i-1] = st.content[i].Sub(st.content[i-1])
		}
	}
	switch {
	case err != nil:
		rec.Err = classify(ctx, rctx, err, len(st.content) > 0)
	case len(st.content) == 0:
		msg := "the server answered without any generated content"
		if st.badChunks > 0 {
			msg += " (and sent chunks that are not JSON)"
		}
		rec.Err = &Failure{Kind: KindNoContent, Message: msg}
	default:
		rec.OK = true
		rec.text = st.text
		if p.keepAnswer {
			rec.answer = rc.answerText()
		}
		if res != nil && res.Usage != nil && res.Usage.CompletionTokens > 0 {
			rec.OutputTokens, rec.TokenMethod = res.Usage.CompletionTokens, MethodUsage
		}
	}
	if rec.OK {
		live.done.Add(1)
	} else {
		live.failed.Add(1)
	}
	return rec
}

// Failure kinds.
const (
	KindTimeout        = "timeout"            // no complete answer within -timeout
	KindCancelled      = "cancelled"          // the run was interrupted
	KindStreamBroken   = "stream_broken"      // the stream failed after content began
	KindNoContent      = "no_content"         // a complete answer with no generated content
	KindRateLimited    = "rate_limited"       // 429
	KindAuth           = "auth"               // 401, 403
	KindNotFound       = "not_found"          // 404 (model not installed or unknown)
	KindInvalidRequest = "invalid_request"    // other 4xx
	KindConnection     = "connection"         // could not reach the server (other causes)
	KindRefused        = "connection_refused" // nothing listens at the address
	KindReset          = "connection_reset"   // the server dropped the connection
	KindDNS            = "dns"                // the host name does not resolve
	KindTLS            = "tls"                // the TLS handshake or certificate failed
	KindUnavailable    = "unavailable"        // 503, overloaded
	KindServer         = "server_error"       // other 5xx, malformed answers
	KindOther          = "other"
)

// Failure is why a request failed.
type Failure struct {
	Kind    string
	Status  int
	Message string
}

func classify(parent, rctx context.Context, err error, started bool) *Failure {
	f := &Failure{Kind: KindOther, Message: err.Error()}
	var pe *providers.Error
	isPE := errors.As(err, &pe)
	transport := isPE && strings.HasPrefix(pe.Message, "cannot reach")
	if isPE && !transport {
		f.Status = serverStatus(pe)
	}
	switch {
	case parent.Err() != nil:
		f.Kind = KindCancelled
	case errors.Is(rctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		f.Kind, f.Status = KindTimeout, 0
		f.Message = "no complete answer within the request timeout"
		if started {
			f.Message += " (the stream had begun)"
		}
	case started:
		f.Kind = KindStreamBroken
	case !isPE:
	case transport:
		// The adapters answer a transport failure as a 502 for the
		// gateway's clients; no server sent it, so the bench keeps the
		// cause and no status.
		f.Kind = transportKind(pe.Message)
	case pe.Type == providers.TypeRateLimit || pe.Status == 429:
		f.Kind = KindRateLimited
	case pe.Type == providers.TypeAuthentication || pe.Type == providers.TypePermission || pe.Status == 401 || pe.Status == 403:
		f.Kind = KindAuth
	case pe.Type == providers.TypeNotFound || pe.Status == 404 || pe.Code == "model_not_found":
		f.Kind = KindNotFound
	case pe.Status >= 400 && pe.Status < 500:
		f.Kind = KindInvalidRequest
	case pe.Type == providers.TypeUnavailable || pe.Status == 503:
		f.Kind = KindUnavailable
	case pe.Status == 504:
		f.Kind = KindTimeout
	default:
		f.Kind = KindServer
	}
	return f
}

// transportKind names the cause of a failure to reach the server from
// the adapter's message (which carries the dialer's words).
func transportKind(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "connection refused"):
		return KindRefused
	case strings.Contains(m, "connection reset"), strings.Contains(m, "broken pipe"), strings.Contains(m, "eof"):
		return KindReset
	case strings.Contains(m, "no such host"), strings.Contains(m, "server misbehaving"):
		return KindDNS
	case strings.Contains(m, "tls:"), strings.Contains(m, "x509:"), strings.Contains(m, "certificate"):
		return KindTLS
	}
	return KindConnection
}

// answeredRE finds the status a server sent in an adapter's message
// ("ollama answered 500: ..."); the adapters map every 5xx to 502 for
// the gateway's clients, and the bench reports what the server said.
var answeredRE = regexp.MustCompile(` answered (\d{3})\b`)

// serverStatus is the HTTP status the server sent.
func serverStatus(pe *providers.Error) int {
	if m := answeredRE.FindStringSubmatch(pe.Message); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return n
		}
	}
	return pe.Status
}

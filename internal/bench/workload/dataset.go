package workload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// Dataset formats.
const (
	// FormatShareGPT is ShareGPT's: {"conversations": [{"from": "human",
	// "value": "..."}, {"from": "gpt", ...}]}.
	FormatShareGPT = "sharegpt"
	// FormatJSONL is OpenAI's chat format, as in fine-tuning files:
	// {"messages": [{"role": "user", "content": "..."}, ...]}.
	FormatJSONL = "jsonl"
)

// Entry is one conversation of a dataset, its messages as the file has
// them (ShareGPT's speakers mapped to OpenAI's roles).
type Entry struct {
	// Line is where the entry starts in the file (1-based).
	Line     int                  `json:"line"`
	Messages []openaiwire.Message `json:"messages"`
}

// Dataset is what ReadDataset kept of a file.
type Dataset struct {
	Name    string  `json:"name"`
	Format  string  `json:"format"`
	Entries []Entry `json:"entries"`
	// Skipped counts entries with no user message, which cannot be sent.
	Skipped int `json:"skipped,omitempty"`
	// Truncated is set when reading stopped at the limit with entries
	// left in the file.
	Truncated bool `json:"truncated,omitempty"`
}

// maxDatasetLine bounds one line of a JSONL dataset.
const maxDatasetLine = 16 << 20

// ReadDataset reads a dataset of conversations in format (FormatShareGPT,
// FormatJSONL, or "" to tell from the first entry's keys). The file is a
// JSON array of entries or one entry per line (JSONL), either way read as
// a stream: an entry at a time, stopping once limit entries are kept (0:
// no limit), so a large file is neither read into memory whole nor read
// past what is needed. Errors name the file and the line. An entry with
// no user message is skipped and counted.
func ReadDataset(name string, r io.Reader, format string, limit int) (*Dataset, error) {
	switch format {
	case "", FormatShareGPT, FormatJSONL:
	default:
		return nil, fmt.Errorf("dataset format %q: use %s or %s", format, FormatShareGPT, FormatJSONL)
	}
	d := &Dataset{Name: name, Format: format}
	lr := &lineReader{r: r, line: 1}
	br := bufio.NewReaderSize(lr, 64<<10)
	first, skip, err := peekNonSpace(br)
	if err == io.EOF {
		return nil, fmt.Errorf("%s: the file is empty", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	add := func(line int, raw []byte) error {
		e, err := d.parse(line, raw)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, e.Line, err)
		}
		if hasUser(e.Messages) {
			d.Entries = append(d.Entries, e)
		} else {
			d.Skipped++
		}
		return nil
	}
	full := func() bool { return limit > 0 && len(d.Entries) >= limit }
	switch first {
	case '[':
		dec := json.NewDecoder(br)
		// The decoder reads br, which reads lr: lr counts lines of what
		// the decoder has consumed (InputOffset), less what br holds.
		// Its offsets start after what peekNonSpace skipped.
		at := func(off int64) int { return lr.lineAt(skip + off) }
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, at(0), err)
		}
		for dec.More() {
			if full() {
				d.Truncated = true
				return d.done()
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("%s:%d: %s", name, at(errOffset(err, dec.InputOffset())), describe(err))
			}
			start := dec.InputOffset() - int64(len(raw))
			if err := add(at(start), raw); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%s:%d: %s", name, at(errOffset(err, dec.InputOffset())), describe(err))
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%s:%d: text after the array's end", name, at(dec.InputOffset()))
		}
	case '{':
		lr.off = true // the scanner counts lines itself
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 0, 64<<10), maxDatasetLine)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			if full() {
				d.Truncated = true
				return d.done()
			}
			if !json.Valid(b) {
				var v any
				err := json.Unmarshal(b, &v)
				return nil, fmt.Errorf("%s:%d: not a JSON object (%s); a JSONL file holds one object per line", name, line, describe(err))
			}
			if err := add(line, b); err != nil {
				return nil, err
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxDatasetLine)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("%s:%d: want a JSON array of conversations or one JSON object per line, not %q", name, lr.lineAt(skip), first)
	}
	return d.done()
}

func (d *Dataset) done() (*Dataset, error) {
	if len(d.Entries) == 0 {
		msg := `no conversations: write {"conversations": [{"from": "human", "value": "..."}]} (sharegpt) or {"messages": [{"role": "user", "content": "..."}]} (jsonl)`
		if d.Skipped > 0 {
			msg = fmt.Sprintf("no conversation has a user message (%d skipped)", d.Skipped)
		}
		return nil, fmt.Errorf("%s: %s", d.Name, msg)
	}
	return d, nil
}

// entryProbe is what an entry of either format holds.
type entryProbe struct {
	Conversations json.RawMessage `json:"conversations"`
	Messages      json.RawMessage `json:"messages"`
}

type shareGPTTurn struct {
	From  *string `json:"from"`
	Value *string `json:"value"`
}

// shareGPTRoles maps ShareGPT's speakers to OpenAI's roles.
var shareGPTRoles = map[string]string{
	"human": "user", "user": "user",
	"gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant", "model": "assistant",
	"system": "system",
}

// parse reads one entry, raw, that starts at line; the Entry it returns
// has the line of the error, when there is one.
func (d *Dataset) parse(line int, raw []byte) (Entry, error) {
	e := Entry{Line: line}
	var p entryProbe
	if err := json.Unmarshal(raw, &p); err != nil {
		e.Line = lineIn(line, raw, err)
		return e, fmt.Errorf("an entry must be a JSON object: %s", describe(err))
	}
	hasConv, hasMsgs := !openaiwire.IsNull(p.Conversations), !openaiwire.IsNull(p.Messages)
	if d.Format == "" {
		switch {
		case hasConv:
			d.Format = FormatShareGPT
		case hasMsgs:
			d.Format = FormatJSONL
		default:
			return e, errors.New(`the entry has neither "conversations" (sharegpt) nor "messages" (jsonl)`)
		}
	}
	switch d.Format {
	case FormatShareGPT:
		if !hasConv {
			return e, errors.New(`a sharegpt entry needs "conversations": [{"from": "human", "value": "..."}, ...]`)
		}
		var turns []shareGPTTurn
		if err := json.Unmarshal(p.Conversations, &turns); err != nil {
			e.Line = lineIn(line, raw, err, int64(bytes.Index(raw, p.Conversations)))
			return e, fmt.Errorf(`"conversations" must be an array of {"from", "value"}: %s`, describe(err))
		}
		for i, t := range turns {
			if t.From == nil || t.Value == nil {
				return e, fmt.Errorf(`conversations[%d] needs "from" and "value" (strings)`, i)
			}
			role, ok := shareGPTRoles[strings.ToLower(*t.From)]
			if !ok {
				return e, fmt.Errorf(`conversations[%d]: "from": %q is not a speaker this reads (human, gpt, system)`, i, *t.From)
			}
			e.Messages = append(e.Messages, openaiwire.Message{Role: role, Content: textContent(*t.Value)})
		}
	case FormatJSONL:
		if !hasMsgs {
			return e, errors.New(`a jsonl entry needs "messages": [{"role": "user", "content": "..."}, ...]`)
		}
		var err error
		if e.Messages, err = parseMessages(p.Messages); err != nil {
			e.Line = lineIn(line, raw, err, int64(bytes.Index(raw, p.Messages)))
			return e, err
		}
	}
	return e, nil
}

// parseMessages reads an OpenAI messages array: each message needs a
// role, and content unless it calls tools. Content is kept compacted.
func parseMessages(raw json.RawMessage) ([]openaiwire.Message, error) {
	var ms []openaiwire.Message
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, &posError{fmt.Errorf(`"messages" must be an array of {"role", "content"}: %s`, describe(err)), err}
	}
	if len(ms) == 0 {
		return nil, errors.New(`"messages" is empty`)
	}
	for i, m := range ms {
		if m.Role == "" {
			return nil, fmt.Errorf(`messages[%d] has no "role"`, i)
		}
		if openaiwire.IsNull(m.Content) && len(m.ToolCalls) == 0 {
			return nil, fmt.Errorf(`messages[%d] has no "content"`, i)
		}
		var compact bytes.Buffer
		if !openaiwire.IsNull(m.Content) && json.Compact(&compact, m.Content) == nil {
			ms[i].Content = compact.Bytes()
		}
	}
	return ms, nil
}

// posError is an error whose cause holds a JSON offset (lineIn finds it).
type posError struct {
	msg   error
	cause error
}

func (e *posError) Error() string { return e.msg.Error() }
func (e *posError) Unwrap() error { return e.cause }

func hasUser(ms []openaiwire.Message) bool {
	for _, m := range ms {
		if m.Role == "user" {
			return true
		}
	}
	return false
}

// textContent is a string content value.
func textContent(s string) json.RawMessage { return openaiwire.MustMarshal(s) }

// TextOf returns a message's text: its string content, or its text parts
// joined.
func TextOf(m openaiwire.Message) string {
	text, parts, ok := openaiwire.ParseContent(m.Content)
	switch {
	case !ok:
		return ""
	case text != nil:
		return *text
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.TextValue())
		}
	}
	return b.String()
}

// lineIn is the line of err's offset (plus base) within raw, which starts
// at line.
func lineIn(line int, raw []byte, err error, base ...int64) int {
	off := int64(-1)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	for _, b := range base {
		if b > 0 {
			off += b
		}
	}
	if off < 0 || off > int64(len(raw)) {
		return line
	}
	return line + bytes.Count(raw[:off], []byte{'\n'})
}

// errOffset is the stream offset of a decoder's error, or at.
func errOffset(err error, at int64) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > at {
		return se.Offset
	}
	return at
}

// describe words a JSON error without Go's type names.
func describe(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the file ends inside an entry"
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s must not be a JSON %s", te.Field, te.Value)
		}
		return fmt.Sprintf("a JSON %s where it does not belong", te.Value)
	}
	return err.Error()
}

// peekNonSpace returns the first byte that is not white space (or a
// byte order mark), left unread, and the number of bytes before it.
func peekNonSpace(br *bufio.Reader) (byte, int64, error) {
	var n int64
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, n, err
		}
		if b == '\xef' { // a UTF-8 byte order mark
			if next, _ := br.Peek(2); string(next) == "\xbb\xbf" {
				br.Discard(2)
				n += 3
				continue
			}
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			return b, n, br.UnreadByte()
		}
		n++
	}
}

// lineReader counts the lines of what it has been read for, lazily:
// lineAt(off) counts newlines up to the stream offset off (which only
// grows) in the bytes kept since the last call, then drops them, so it
// holds no more than what a reader reads ahead.
type lineReader struct {
	r       io.Reader
	pending []byte // bytes from offset base on
	base    int64
	line    int  // line at base
	off     bool // stop keeping bytes: lines are not asked for
}

func (l *lineReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if !l.off {
		l.pending = append(l.pending, p[:n]...)
	}
	return n, err
}

func (l *lineReader) lineAt(off int64) int {
	k := int(min(max(off-l.base, 0), int64(len(l.pending))))
	l.line += bytes.Count(l.pending[:k], []byte{'\n'})
	l.pending = append(l.pending[:0], l.pending[k:]...)
	l.base += int64(k)
	return l.line
}

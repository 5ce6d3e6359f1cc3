package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/tiergate/tiergate/internal/openaiwire"
)

// maxHeld bounds the raw preamble events held back (a message_start with
// a long id and usage, an empty block start, a ping are far smaller).
const maxHeld = 16 << 10

// hold keeps data back if it is a preamble (see sseSink.held): a
// translated stream's role-only first chunk, or, passed through, the
// events of Anthropic's stream that precede its first content
// (message_start, an empty text or thinking block's start, ping).
func (k *sseSink) hold(data []byte) bool {
	switch {
	case k.raw && len(k.held)+len(data) <= maxHeld && rawPreamble(data):
		k.held = append(k.held, data...)
		return true
	case !k.raw && k.held == nil && preambleOnly(data):
		k.held = append([]byte{}, data...)
		return true
	}
	return false
}

// rawPreamble reports whether a passed-through server-sent event of
// Anthropic's stream says nothing yet: message_start, ping, or the start
// of a text or thinking block with no text in it. (A tool_use block's
// start names the tool: content.)
func rawPreamble(ev []byte) bool {
	name, rest, ok := bytes.Cut(ev, []byte("\n"))
	if !ok {
		return false
	}
	switch string(bytes.TrimSpace(bytes.TrimPrefix(name, []byte("event:")))) {
	case "message_start", "ping":
		return true
	case "content_block_start":
		data, ok := bytes.CutPrefix(bytes.TrimSpace(rest), []byte("data:"))
		if !ok {
			return false
		}
		var e struct {
			Block map[string]json.RawMessage `json:"content_block"`
		}
		if json.Unmarshal(data, &e) != nil {
			return false
		}
		switch string(e.Block["type"]) {
		case `"text"`, `"thinking"`:
			for k, v := range e.Block {
				if k != "type" && k != "signature" && !empty(v) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// writeHeld writes the held preamble, if any, as the stream's first event.
func (k *sseSink) writeHeld() error {
	if k.held == nil {
		return nil
	}
	held := k.held
	k.held = nil
	var err error
	if k.buf, err = k.frame(k.buf[:0], held); err != nil {
		return err
	}
	_, err = k.w.Write(k.buf)
	return err
}

// preambleOnly reports whether a chat.completion.chunk says nothing yet:
// each choice's delta has only a role and empty fields (content "",
// refusal null), no finish_reason, and there is no usage. Such a chunk
// is held back (see sseSink.held). Only a stream's first chunk is looked
// at, on the way to the first token: so it is read by a byte scan
// (openaiwire.Members), not decoded. Member names match as encoding/json
// matches its fields (case folded) but for the delta's, which are a map's
// keys; a name with an escape, or a member given twice, counts as
// content (the chunk is sent, not held: never the unsafe way).
func preambleOnly(data []byte) bool {
	if !json.Valid(data) {
		return false
	}
	var choices, usage []byte
	ok := openaiwire.Members(data, func(key, v []byte) bool {
		switch {
		case bytes.IndexByte(key, '\\') >= 0:
			choices = nil
			return false
		case bytes.EqualFold(key, []byte("choices")):
			if choices != nil {
				choices = nil
				return false
			}
			choices = v
		case bytes.EqualFold(key, []byte("usage")):
			usage = v
		}
		return true
	})
	if !ok || choices == nil || !empty(usage) {
		return false
	}
	n := 0
	ok = openaiwire.Elements(choices, func(ch []byte) bool {
		n++
		if string(ch) == "null" {
			return true
		}
		var delta, finish []byte
		var seenDelta, seenFinish bool
		quiet := openaiwire.Members(ch, func(key, v []byte) bool {
			switch {
			case bytes.IndexByte(key, '\\') >= 0:
				return false
			case bytes.EqualFold(key, []byte("delta")):
				if seenDelta {
					return false
				}
				delta, seenDelta = v, true
			case bytes.EqualFold(key, []byte("finish_reason")):
				if seenFinish {
					return false
				}
				finish, seenFinish = v, true
			}
			return true
		})
		if !quiet || !empty(finish) {
			n = -1
			return false
		}
		if delta == nil || string(delta) == "null" {
			return true
		}
		emptyDelta := openaiwire.Members(delta, func(key, v []byte) bool {
			if bytes.IndexByte(key, '\\') >= 0 || string(key) != "role" && !empty(v) {
				delta = nil
				return false
			}
			return true
		})
		if !emptyDelta || delta == nil {
			n = -1
			return false
		}
		return true
	})
	return ok && n > 0
}

// empty is a JSON value that carries nothing: absent, null or "".
func empty(v json.RawMessage) bool {
	s := string(v)
	return s == "" || s == "null" || s == `""`
}

package gateway

import "encoding/json"

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
// at.
func preambleOnly(data []byte) bool {
	var c struct {
		Choices []struct {
			Delta        map[string]json.RawMessage `json:"delta"`
			FinishReason json.RawMessage            `json:"finish_reason"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}
	if json.Unmarshal(data, &c) != nil || len(c.Choices) == 0 || !empty(c.Usage) {
		return false
	}
	for _, ch := range c.Choices {
		if !empty(ch.FinishReason) {
			return false
		}
		for k, v := range ch.Delta {
			if k != "role" && !empty(v) {
				return false
			}
		}
	}
	return true
}

// empty is a JSON value that carries nothing: absent, null or "".
func empty(v json.RawMessage) bool {
	s := string(v)
	return s == "" || s == "null" || s == `""`
}

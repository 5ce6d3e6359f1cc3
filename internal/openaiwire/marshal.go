package openaiwire

import (
	"bytes"
	"encoding/json"
)

// Marshal encodes v as JSON without HTML escaping (OpenAI writes <, > and
// & as they are) and without a trailing newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// MustMarshal is Marshal for the types of this package, which always
// encode; it panics on anything else that fails.
func MustMarshal(v any) []byte {
	b, err := Marshal(v)
	if err != nil {
		panic("openaiwire: " + err.Error())
	}
	return b
}

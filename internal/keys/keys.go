// Package keys holds tiergate's gateway keys: the secrets clients send
// (tg- plus 32 random bytes in base62, shown once, kept only as a
// SHA-256 hash), each key's name, expiry and policy, the Store that keeps
// them (SQLite by default: modernc.org/sqlite, a pure-Go driver, so the
// gateway stays one static binary without cgo) and the Ring, the
// in-memory index the hot path checks a secret against (a hash and a map
// lookup, no database round trip).
//
// It imports only catalog (for the openness and deployment values);
// config, gateway and app import it.
package keys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Prefix starts every gateway key's secret.
const Prefix = "tg-"

// secretBytes is the entropy of a secret; secretChars is its base62 length.
const (
	secretBytes = 32
	secretChars = 43 // ceil(256 / log2(62))
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Hash is the SHA-256 of a secret: all the gateway keeps of it.
type Hash [sha256.Size]byte

// String is the hash's config spelling, sha256:<hex>.
func (h Hash) String() string { return "sha256:" + hex.EncodeToString(h[:]) }

// HashSecret hashes a secret. SHA-256 without salt or stretching is right
// for 256-bit random secrets: there is no dictionary to guess from.
func HashSecret(secret string) Hash { return sha256.Sum256([]byte(secret)) }

// NewSecret makes a secret: Prefix + 32 bytes from crypto/rand in base62.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return Prefix + encode62(b, secretChars), nil
}

// encode62 writes b as a big-endian base62 number, left-padded to width.
func encode62(b []byte, width int) string {
	n := new(big.Int).SetBytes(b)
	out := make([]byte, width)
	for i := range out {
		out[i] = '0'
	}
	base, mod := big.NewInt(62), new(big.Int)
	for i := width - 1; i >= 0 && n.Sign() > 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}

// ParseSecret checks that s has a secret's shape (Prefix, then 43 base62
// characters) without saying anything of it in the error.
func ParseSecret(s string) error {
	if !strings.HasPrefix(s, Prefix) {
		return errors.New("a gateway key starts with " + Prefix)
	}
	body := s[len(Prefix):]
	if len(body) != secretChars {
		return fmt.Errorf("a gateway key has %d characters after %s", secretChars, Prefix)
	}
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(base62, body[i]) < 0 {
			return errors.New("a gateway key holds only letters and digits after " + Prefix)
		}
	}
	return nil
}

// ParseHash reads a hash in its config spelling, sha256:<64 hex digits>.
func ParseHash(s string) (Hash, error) {
	var h Hash
	hx, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return h, errors.New("a key hash is written sha256:<64 hex digits> (print one with: printf %s \"$KEY\" | sha256sum)")
	}
	if len(hx) != 2*len(h) {
		return h, fmt.Errorf("a key hash has 64 hex digits after sha256:, this one %d", len(hx))
	}
	if _, err := hex.Decode(h[:], []byte(hx)); err != nil {
		return h, errors.New("a key hash has only hex digits (0-9, a-f) after sha256:")
	}
	return h, nil
}

// NewID makes a key id: key_ + 16 random bytes in base62.
func NewID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "key_" + encode62(b, 22), nil
}

// Key is a gateway key as stored: never its secret.
type Key struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Hash      Hash       `json:"-"`
	Policy    Policy     `json:"policy"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// Source is "store" (the admin API, the CLI) or "config" (auth.keys).
	Source string `json:"source"`
}

// Sources of keys.
const (
	SourceStore  = "store"
	SourceConfig = "config"
)

// Identity is what a request carries of the key that authenticated it.
type Identity struct {
	ID, Name string
	Policy   Policy
}

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity a request was authenticated with
// (false: none, the gateway is open).
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

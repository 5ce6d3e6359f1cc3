// Package admin is the gateway's admin API for keys (POST, GET, PATCH and
// DELETE under /admin/keys, behind TIERGATE_ADMIN_KEY) and its client,
// which `gateway keys` uses. The wire types are keys.Key and the request
// and answer types here; errors are in OpenAI's shape.
//
// It imports keys only; internal/app mounts the handler and cmd/gateway
// drives the client.
package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tiergate/tiergate/internal/keys"
)

// EnvAdminKey names the environment variable holding the admin key.
const EnvAdminKey = "TIERGATE_ADMIN_KEY"

// CreateRequest is the body of POST /admin/keys.
type CreateRequest struct {
	Name      string      `json:"name"`
	ExpiresAt *time.Time  `json:"expires_at,omitempty"`
	Policy    keys.Policy `json:"policy"`
}

// Created is the answer to POST /admin/keys: the only place the secret
// (Key) ever appears.
type Created struct {
	ID        string      `json:"id"`
	Key       string      `json:"key"`
	Name      string      `json:"name"`
	Policy    keys.Policy `json:"policy"`
	CreatedAt time.Time   `json:"created_at"`
	ExpiresAt *time.Time  `json:"expires_at,omitempty"`
}

// Shown is the answer to GET /admin/keys/{id}: the key and what it
// spent this budget period (its budget's, else this month), from the
// spend ledger.
type Shown struct {
	keys.Key
	Usage keys.Usage `json:"usage"`
}

// PatchRequest is the body of PATCH /admin/keys/{id}.
type PatchRequest struct {
	Policy *keys.Policy `json:"policy"`
}

// List is the answer to GET /admin/keys.
type List struct {
	Object string     `json:"object"`
	Data   []keys.Key `json:"data"`
}

// Handler serves the admin API on ring. adminKey "" turns it off: every
// admin path answers 404 saying how to turn it on.
func Handler(ring *keys.Ring, adminKey string) http.Handler {
	h := &handler{ring: ring}
	if adminKey != "" {
		sum := sha256.Sum256([]byte(adminKey))
		h.adminHash = &sum
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/keys", h.create)
	mux.HandleFunc("GET /admin/keys", h.list)
	mux.HandleFunc("GET /admin/keys/{id}", h.get)
	mux.HandleFunc("PATCH /admin/keys/{id}", h.patch)
	mux.HandleFunc("DELETE /admin/keys/{id}", h.revoke)
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown_url",
			"Unknown admin URL: "+r.Method+" "+r.URL.Path+". The admin API serves POST and GET /admin/keys, and GET, PATCH and DELETE /admin/keys/{id}.")
	})
	h.mux = mux
	return h
}

type handler struct {
	ring      *keys.Ring
	adminHash *[sha256.Size]byte
	mux       *http.ServeMux
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.adminHash == nil {
		writeError(w, http.StatusNotFound, "invalid_request_error", "admin_disabled",
			"The admin API is off: start the gateway with "+EnvAdminKey+" set to turn it on, then send it as Authorization: Bearer $"+EnvAdminKey+".")
		return
	}
	got := ""
	if scheme, v, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = strings.TrimSpace(v)
	}
	// Both sides hashed: equal lengths, so the compare is constant-time
	// whatever the client sends.
	sum := sha256.Sum256([]byte(got))
	if got == "" || subtle.ConstantTimeCompare(sum[:], h.adminHash[:]) != 1 {
		writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
			"The admin API needs the admin key: send Authorization: Bearer $"+EnvAdminKey+" (the value the gateway was started with).")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// decode reads a JSON body strictly: unknown fields are errors naming them.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if errors.Is(err, io.EOF) {
			msg = "the body is empty: send a JSON object"
		}
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "invalid request body: "+msg)
		return false
	}
	return true
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if !decode(w, r, &req) {
		return
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(time.Now()) {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "expires_at is in the past")
		return
	}
	k, secret, err := h.ring.Create(r.Context(), req.Name, req.Policy, req.ExpiresAt)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, Created{ID: k.ID, Key: secret, Name: k.Name, Policy: k.Policy, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt})
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	all := h.ring.List()
	if all == nil {
		all = []keys.Key{}
	}
	writeJSON(w, http.StatusOK, List{Object: "list", Data: all})
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	k, err := h.ring.Get(r.PathValue("id"))
	if err != nil {
		h.fail(w, err)
		return
	}
	u, err := h.ring.Usage(r.Context(), k.ID)
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Shown{Key: k, Usage: u})
}

func (h *handler) patch(w http.ResponseWriter, r *http.Request) {
	var req PatchRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Policy == nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", `give {"policy": {...}}: the policy replaces the key's whole policy`)
		return
	}
	id := r.PathValue("id")
	if err := h.ring.SetPolicy(r.Context(), id, *req.Policy); err != nil {
		h.fail(w, err)
		return
	}
	h.get(w, r)
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request) {
	if err := h.ring.Revoke(r.Context(), r.PathValue("id")); err != nil {
		h.fail(w, err)
		return
	}
	h.get(w, r)
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, keys.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found_error", "key_not_found", "No such key: GET /admin/keys lists them.")
	case errors.Is(err, keys.ErrStatic):
		writeError(w, http.StatusConflict, "invalid_request_error", "config_key", "This key comes from the config file (auth.keys): change or remove it there and restart.")
	case errors.Is(err, keys.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "server_error", "", "the key store failed: "+err.Error())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	d := errorDetail{Message: msg, Type: typ}
	if code != "" {
		d.Code = &code
	}
	writeJSON(w, status, errorBody{Error: d})
}

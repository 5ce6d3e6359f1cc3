package emu

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLog: a recorded request's body stays readable for the handler, the
// log hands out copies a test may change, options change at run time, and
// Forget empties the log.
func TestLog(t *testing.T) {
	l := NewLog(Fault{Status: 500})
	r := httptest.NewRequest("POST", "/v1/x?alt=sse", strings.NewReader(`{"a":1}`))
	body, o, err := l.Record(r)
	if err != nil || string(body) != `{"a":1}` || o.Status != 500 {
		t.Fatalf("Record = %q, %+v, %v", body, o, err)
	}
	if again, _ := io.ReadAll(r.Body); string(again) != `{"a":1}` {
		t.Fatalf("the handler reads %q after Record", again)
	}
	got := l.Requests()
	if len(got) != 1 || got[0].Path != "/v1/x" || got[0].Query != "alt=sse" || got[0].Method != "POST" {
		t.Fatalf("log = %+v", got)
	}
	got[0].Body[0] = 'X'
	if l.Requests()[0].Body[0] != '{' {
		t.Error("changing a returned request changed the log")
	}
	l.SetOptions(Fault{Hang: true})
	if !l.Options().Hang {
		t.Error("SetOptions did not take")
	}
	l.Forget()
	if len(l.Requests()) != 0 {
		t.Error("Forget left requests in the log")
	}
}

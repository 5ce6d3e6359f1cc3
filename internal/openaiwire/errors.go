package openaiwire

import (
	"encoding/json"
	"strconv"
)

// ErrorBody is OpenAI's error answer, {"error": {...}}, and the error
// object an OpenAI-compatible server puts in a stream chunk. Error is nil
// when the body holds no error object.
type ErrorBody struct {
	Error *ErrorObject `json:"error"`
}

// ErrorObject is the error's content. Param and Code are written as null
// when nil, as OpenAI does; Code is raw because servers send it as a
// string, a number or null.
type ErrorObject struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Param   *string         `json:"param"`
	Code    json.RawMessage `json:"code"`
}

// CodeString is the code as text: a string's value, a number's digits,
// "" for null or absent.
func (e *ErrorObject) CodeString() string {
	if IsNull(e.Code) {
		return ""
	}
	var s string
	if json.Unmarshal(e.Code, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(e.Code, &n) == nil {
		return n.String()
	}
	return ""
}

// ParamString is the param, "" when nil.
func (e *ErrorObject) ParamString() string {
	if e.Param == nil {
		return ""
	}
	return *e.Param
}

// NewError builds an ErrorBody; empty param and code are written as null.
func NewError(message, typ, param, code string) ErrorBody {
	o := &ErrorObject{Message: message, Type: typ}
	if param != "" {
		o.Param = &param
	}
	if code != "" {
		o.Code = json.RawMessage(strconv.Quote(code))
	}
	return ErrorBody{Error: o}
}

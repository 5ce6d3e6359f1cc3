// Package e2e holds end-to-end tests that drive a whole gateway (built as
// cmd/gateway builds it, on emulated or real local backends) with real
// third-party clients, such as the official openai npm package in node/.
package e2e

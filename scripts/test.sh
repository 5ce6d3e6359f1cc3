#!/usr/bin/env bash
# test.sh runs tiergate's whole test suite, installing what the tests need
# on a fresh machine first: an Ollama binary (built once from the Go module
# proxy into ~/.cache/tiergate), Debian's espeak-ng (speech for the audio
# tests), redis-server and postgresql, and the pinned openai and
# @anthropic-ai/sdk npm clients.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

echo "== ollama"
scripts/ensure-ollama.sh
echo "== espeak-ng (speech for the audio tests)"
scripts/ensure-espeak.sh
echo "== redis-server (the shared-state tests)"
scripts/ensure-redis.sh >/dev/null
echo "== postgresql (the shared key store's tests)"
scripts/ensure-postgres.sh >/dev/null
echo "== npm (official openai and anthropic clients, pinned by package-lock.json)"
(cd internal/testing/e2e/node && npm ci --no-audit --no-fund --loglevel=error)
echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './internal/testing/e2e/node/*'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
go vet ./...
echo "== go test -race"
go test -race -timeout 45m -count=1 ./...
echo "== the bench's truth at 1, 64 and 256 streams, without the race detector (under it 256 streams on 2 cores measure the detector)"
go test -count=1 -run '^TestMeasurementTruth$' ./internal/bench

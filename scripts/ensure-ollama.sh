#!/usr/bin/env bash
# ensure-ollama.sh prints the path of an ollama binary, building it from the
# Go module proxy into a cache folder when none is on PATH.
#
# The Go module for ollama leaves out llama.cpp's vendored third-party headers;
# nlohmann-json and stb come from Debian, miniaudio from the malgo module.
# The first build takes 10 to 25 minutes on 2 cores; later ones hit the cache.
set -euo pipefail
OLLAMA_VERSION=${OLLAMA_VERSION:-v0.17.4}
MALGO_VERSION=v0.11.24
if command -v ollama >/dev/null 2>&1; then command -v ollama; exit 0; fi
cache=${TIERGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tiergate}
bin=$cache/ollama-$OLLAMA_VERSION/bin
if [ -x "$bin/ollama" ]; then echo "$bin/ollama"; exit 0; fi
# TIERGATE_OLLAMA_NO_BUILD=1 (set by internal/ollamatest under
# TIERGATE_SKIP_OLLAMA=1) reports "not found" instead of building.
if [ "${TIERGATE_OLLAMA_NO_BUILD:-}" = 1 ]; then
  echo "no ollama on PATH or in $bin, and TIERGATE_OLLAMA_NO_BUILD=1" >&2; exit 3
fi
mkdir -p "$bin" "$cache/inc/miniaudio"
# Test packages run in parallel; let one build while the others wait.
exec 9>"$cache/ollama-$OLLAMA_VERSION.lock"
flock 9
if [ -x "$bin/ollama" ]; then echo "$bin/ollama"; exit 0; fi
if [ ! -f /usr/include/nlohmann/json.hpp ] || [ ! -f /usr/include/stb/stb_image.h ]; then
  . "$(dirname "$0")/apt.sh"
  apt_install nlohmann-json3-dev libstb-dev
fi
malgo=$(go mod download -json github.com/gen2brain/malgo@$MALGO_VERSION | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
cp "$malgo/miniaudio.h" "$cache/inc/miniaudio/miniaudio.h"
echo "building ollama $OLLAMA_VERSION into $bin (first time: 10-25 min)" >&2
CGO_CPPFLAGS="-I$cache/inc" GOBIN="$bin" GOFLAGS=-buildvcs=false go install github.com/ollama/ollama@$OLLAMA_VERSION >&2
echo "$bin/ollama"

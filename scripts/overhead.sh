#!/usr/bin/env bash
# overhead.sh measures the gateway's overhead against a bare
# httputil.ReverseProxy in one run (see `bench overhead -h`): the load
# generator and upstream on core 0, the proxy under test on core 1.
# Besides the closed-loop figures it reports a ~1 MB image body and an
# open loop at 1,000 and 5,000 requests/s (-open-rate; "" to skip). The
# machine is shared: compare ratios within a run, over several runs.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o /tmp/tiergate-bench ./cmd/bench
go build -o /tmp/tiergate-gateway ./cmd/gateway
exec taskset -c 0 /tmp/tiergate-bench overhead -gateway /tmp/tiergate-gateway -core 1 "$@"

# syntax=docker/dockerfile:1
# tiergate's gateway (and bench) as a small static, non-root image.
#   docker build -t tiergate/gateway .
#   docker run --rm -p 127.0.0.1:8080:8080 -v tiergate:/data \
#     -e OPENAI_API_KEY -e TIERGATE_ADMIN_KEY tiergate/gateway
# It listens on 0.0.0.0 inside the container, so it requires gateway keys
# (TIERGATE_AUTH_MODE=keys): until one is made (gateway keys create, the
# admin API) every API call gets 401. TIERGATE_AUTH_MODE=none serves open,
# on purpose. Keys live in /data (TIERGATE_DATA_DIR), with the tiers file.
# deploy/docker-compose.yml builds it for the observability stack.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -ldflags="-s -w" -o /out/gateway ./cmd/gateway \
 && go build -ldflags="-s -w" -o /out/bench ./cmd/bench \
 && mkdir -p /out/data

# distroless/static: no shell, no libc, CA certificates and tzdata only.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /out/bench /
# /data holds the tiers file bench writes and the gateway reloads, and the
# database of gateway keys; a named
# volume mounted there starts with this ownership.
COPY --from=build --chown=65532:65532 /out/data /data
ENV TIERGATE_ADDR=0.0.0.0:8080 TIERGATE_AUTH_MODE=keys TIERGATE_DATA_DIR=/data
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/gateway"]

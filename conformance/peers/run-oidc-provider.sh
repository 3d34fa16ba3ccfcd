#!/usr/bin/env bash
# Start panva's oidc-provider (version pinned in package.json / package-lock.json
# beside this script) over HTTPS on 127.0.0.1:$PORT, wait until its discovery
# document answers, run the given command with ISSUER exported, then stop the
# server. With no command, keeps the server up until interrupted.
#
# Env inputs:
#   CA             PEM of the CA that signed TLS_CERT (used by curl to probe)
#   TLS_CERT       server certificate PEM (SAN must include 127.0.0.1)
#   TLS_KEY        server private key PEM
#   PORT           HTTPS port (default 3443)
#   CALLBACK_PORT  port of the RP's http://127.0.0.1 callback (default 8990)
#   OP_LOG         optional file for the server's output (default: a file in
#                  the temporary directory, printed to stderr on failure)
#
# Example:
#   CA=ca.pem TLS_CERT=server.pem TLS_KEY=server.key \
#     conformance/peers/run-oidc-provider.sh gatehouse-conformance ...
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${CA:?CA must name the CA certificate PEM}"
: "${TLS_CERT:?TLS_CERT must name the server certificate PEM}"
: "${TLS_KEY:?TLS_KEY must name the server key PEM}"
PORT=${PORT:-3443}
CALLBACK_PORT=${CALLBACK_PORT:-8990}
for f in "$CA" "$TLS_CERT" "$TLS_KEY"; do
  [[ -r "$f" ]] || { echo "run-oidc-provider: cannot read $f" >&2; exit 2; }
done
# absolute paths: node runs from the temporary directory
CA=$(cd "$(dirname "$CA")" && pwd)/$(basename "$CA")
TLS_CERT=$(cd "$(dirname "$TLS_CERT")" && pwd)/$(basename "$TLS_CERT")
TLS_KEY=$(cd "$(dirname "$TLS_KEY")" && pwd)/$(basename "$TLS_KEY")

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/oidc-provider-peer.XXXXXX")
LOG=${OP_LOG:-$WORKDIR/server.log}
SERVER_PID=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -z "${OP_LOG:-}" && -s "$LOG" ]]; then
    echo "--- oidc-provider log (last 50 lines) ---" >&2
    tail -n 50 "$LOG" >&2
  fi
  rm -rf "$WORKDIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/oidc-provider.mjs" "$WORKDIR/"
echo "run-oidc-provider: installing $(node -e 'console.log("oidc-provider@" + require(process.argv[1]).dependencies["oidc-provider"])' "$WORKDIR/package.json") into $WORKDIR" >&2
(cd "$WORKDIR" && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error >&2)

(cd "$WORKDIR" && exec env TLS_CERT="$TLS_CERT" TLS_KEY="$TLS_KEY" PORT="$PORT" \
  CALLBACK_PORT="$CALLBACK_PORT" node oidc-provider.mjs) >"$LOG" 2>&1 &
SERVER_PID=$!

ISSUER="https://127.0.0.1:$PORT"
ready=
for _ in $(seq 1 80); do # 80 * 0.25 s = 20 s
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "run-oidc-provider: server exited during startup" >&2
    exit 1
  fi
  if curl -fsS -o /dev/null --max-time 2 --cacert "$CA" "$ISSUER/.well-known/openid-configuration" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.25
done
if [[ -z "$ready" ]]; then
  echo "run-oidc-provider: $ISSUER did not answer within 20 s" >&2
  exit 1
fi
echo "run-oidc-provider: $ISSUER is up (pid $SERVER_PID)" >&2

export ISSUER
if [[ $# -eq 0 ]]; then
  echo "run-oidc-provider: no command given; serving until interrupted" >&2
  wait "$SERVER_PID"
else
  set +e
  "$@"
  status=$?
  set -e
  exit "$status"
fi

#!/usr/bin/env bash
# Runs the six OpenID Foundation OP plans against a real Gatehouse binary over https,
# with a throwaway CA made for the run. SQLite by default; DATABASE_URL=postgres://...
# runs it on PostgreSQL (the database must exist; it is migrated).
#
#   conformance/run-gatehouse.sh                       # all plans, results in conformance/results/
#   PLANS="basic logout" conformance/run-gatehouse.sh  # some plans
#
# Environment: PORT [8443], CALLBACK_PORT [8990], DATABASE_URL [sqlite in a temp dir],
# OUT [conformance/results/gatehouse], KEEP_WORKDIR [0]. Needs cargo and curl.
set -euo pipefail
command -v curl >/dev/null || { echo "curl is required (apt-get install curl)" >&2; exit 2; }
# Gatehouse reads GATEHOUSE_* over its config file: a stray one in this shell (say
# GATEHOUSE_DATABASE_URL) would aim the run's clients and user at another database.
for var in $(compgen -e | grep '^GATEHOUSE_' || true); do unset "$var"; done
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PORT="${PORT:-8443}"
CALLBACK_PORT="${CALLBACK_PORT:-8990}"
OUT="${OUT:-$HERE/results/gatehouse}"
PASSWORD='correct horse battery staple 42'

cd "$ROOT"
cargo build --release --quiet --bin gatehouse --bin gatehouse-conformance
gatehouse="${CARGO_TARGET_DIR:-$ROOT/target}/release/gatehouse"
runner="${CARGO_TARGET_DIR:-$ROOT/target}/release/gatehouse-conformance"

WORK="$(mktemp -d -t gatehouse-conformance.XXXXXX)"
SERVER_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then echo "workdir kept: $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$runner" ca --out "$WORK/tls" >/dev/null
cat >"$WORK/gatehouse.toml" <<TOML
listen = "127.0.0.1:$PORT"
issuer = "https://127.0.0.1:$PORT"
database_url = "${DATABASE_URL:-sqlite://$WORK/gatehouse.db}"
keys_dir = "$WORK/keys"

[tls]
cert_file = "$WORK/tls/server.pem"
key_file = "$WORK/tls/server.key"

[accounts]
# A run signs in about 150 times from 127.0.0.1 within a minute.
rate_limit_per_minute = 100000

[mail]
file_dir = "$WORK/mail"

[registration]
# The dynamic plan registers a client per module.
mode = "open"

[outbound]
# The runner hosts the RP's key sets, request objects and sector documents, and takes
# back-channel logouts, on http://127.0.0.1.
allow_private_networks = true
TOML
export GATEHOUSE_CONFIG="$WORK/gatehouse.toml"

"$gatehouse" migrate >/dev/null
secret_of() { sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p'; }
declare -A SECRET
for id in oidcc-client oidcc-client2; do
  SECRET[$id]="$("$gatehouse" client delete "$id" >/dev/null 2>&1 || true
    "$gatehouse" client create --json --name "Conformance $id" --client-id "$id" \
      --redirect-uri "http://127.0.0.1:$CALLBACK_PORT/callback" \
      --post-logout-redirect-uri "http://127.0.0.1:$CALLBACK_PORT/post_logout_redirect" \
      --backchannel-logout-uri "http://127.0.0.1:$CALLBACK_PORT/backchannel_logout" | secret_of)"
done
# A user of its own each run, so a database kept from an earlier run cannot hold a stale one.
USERNAME="conformance-$(date +%s)-$$"
printf '%s' "$PASSWORD" | "$gatehouse" user create --username "$USERNAME" --email "$USERNAME@example.com" \
  --given-name Ada --family-name Lovelace --password-stdin >/dev/null

"$gatehouse" serve >"$WORK/gatehouse.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 100); do
  curl -fsS --cacert "$WORK/tls/ca.pem" -o /dev/null "https://127.0.0.1:$PORT/.well-known/openid-configuration" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/gatehouse.log" >&2; echo "gatehouse exited" >&2; exit 2; }
  [[ $i == 100 ]] && { echo "gatehouse did not answer within 20 s" >&2; exit 2; }
  sleep 0.2
done

cat >"$WORK/target.toml" <<TOML
issuer = "https://127.0.0.1:$PORT"
ca_file = "$WORK/tls/ca.pem"
callback_port = $CALLBACK_PORT
pages = "gatehouse"

[client]
id = "oidcc-client"
secret = "${SECRET[oidcc-client]}"

[client2]
id = "oidcc-client2"
secret = "${SECRET[oidcc-client2]}"

[user]
username = "$USERNAME"
password = "$PASSWORD"

# oidcc-server-rotate-keys: a new signing key in the database, which the running server
# reads again every 5 s; the runner fetches the JWKS as soon as the command returns.
[rotate_keys]
command = ["sh", "-c", "\"\$0\" keys rotate && sleep 6", "$gatehouse"]
TOML

plan_args=()
for p in ${PLANS:-}; do plan_args+=(--plan "$p"); done
mkdir -p "$(dirname "$OUT")"
"$runner" run --target "$WORK/target.toml" "${plan_args[@]}" --json "$OUT.json" --markdown "$OUT.md"

#!/usr/bin/env bash
# Runs the same six plans against panva's oidc-provider (a certified OP nobody here
# wrote), installed from npm into a temp dir by peers/run-oidc-provider.sh, and prints its
# results beside Gatehouse's (conformance/results/gatehouse.json, from run-gatehouse.sh).
#
# Environment: PORT [3443], CALLBACK_PORT [8991], OUT [conformance/results/oidc-provider],
# PLANS ["basic logout ..."; all by default].
# Needs node >= 20 and npm (registry access for the first install).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export PORT="${PORT:-3443}" CALLBACK_PORT="${CALLBACK_PORT:-8991}"
OUT="${OUT:-$HERE/results/oidc-provider}"

command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are required" >&2; exit 2; }
[[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]] || { echo "oidc-provider 9 needs node >= 20" >&2; exit 2; }
cd "$ROOT"
cargo build --release --quiet --bin gatehouse-conformance
runner="${CARGO_TARGET_DIR:-$ROOT/target}/release/gatehouse-conformance"
WORK="$(mktemp -d -t oidc-peer-conformance.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
"$runner" ca --out "$WORK/tls" >/dev/null
sed -e "s|@ISSUER@|https://127.0.0.1:$PORT|" -e "s|@CA@|$WORK/tls/ca.pem|" -e "s|@CALLBACK_PORT@|$CALLBACK_PORT|" \
  "$HERE/peers/oidc-provider.toml.in" >"$WORK/target.toml"
mkdir -p "$(dirname "$OUT")"
status=0
plan_args=()
for p in ${PLANS:-}; do plan_args+=(--plan "$p"); done
CA="$WORK/tls/ca.pem" TLS_CERT="$WORK/tls/server.pem" TLS_KEY="$WORK/tls/server.key" \
  "$HERE/peers/run-oidc-provider.sh" \
  "$runner" run --target "$WORK/target.toml" "${plan_args[@]}" --json "$OUT.json" --markdown "$OUT.md" || status=$?
if [[ -f "$HERE/results/gatehouse.json" && -f "$OUT.json" ]]; then
  echo
  "$runner" compare "Gatehouse=$HERE/results/gatehouse.json" "oidc-provider=$OUT.json" | tee "$HERE/results/comparison.md"
fi
exit "$status"

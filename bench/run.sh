#!/usr/bin/env bash
# The benchmark, in one command: builds the release binary and the load driver, starts a throwaway
# PostgreSQL (durable settings) when the server binaries are installed, and measures both backends.
#   bench/run.sh                 SQLite, and PostgreSQL if it can be started here
#   bench/run.sh --sqlite-only   SQLite only
#   LATCHKEY_BENCH_POSTGRES_URL=postgres://… bench/run.sh   use that PostgreSQL server instead
#   bench/run.sh --scale 10000   every phase on stores of 10k, 100k and 1M users (README "Store size")
#   bench/run.sh --versus-node   node-oidc-provider beside Latchkey (needs Node.js and npm; the first run
#                                installs bench/node's pinned oidc-provider with npm ci)
# Extra flags go to the driver (see `target/release/examples/bench --help`): --seconds, --workers, …
set -euo pipefail
cd "$(dirname "$0")/.."

sqlite_only=false
versus_node=false
args=()
for arg in "$@"; do
  if [ "$arg" = "--sqlite-only" ]; then sqlite_only=true; else args+=("$arg"); fi
  if [ "$arg" = "--versus-node" ]; then versus_node=true; fi
done

if [ "$versus_node" = true ] && [ ! -d bench/node/node_modules ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "--versus-node needs Node.js (20 or later) and npm on the PATH" >&2
    exit 1
  fi
  (cd bench/node && npm ci --no-audit --no-fund)
fi

cargo build --release --bin latchkey --example bench

if [ "$sqlite_only" = false ] && [ -z "${LATCHKEY_BENCH_POSTGRES_URL:-}" ]; then
  . .ci/postgres.sh
  trap stop_postgres EXIT
  if start_postgres "${LATCHKEY_BENCH_PG_PORT:-55433}" "-c shared_buffers=256MB"; then
    export LATCHKEY_BENCH_POSTGRES_URL="$PG_URL"
  else
    echo "PostgreSQL could not start: benchmarking SQLite only"
  fi
fi
if [ "$sqlite_only" = true ]; then unset LATCHKEY_BENCH_POSTGRES_URL; fi

target/release/examples/bench "${args[@]}"

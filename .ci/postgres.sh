# Sourced by .ci/run and bench/run.sh: a throwaway PostgreSQL cluster in a temporary directory,
# on a private loopback port, run as the `postgres` user when we are root.
#   start_postgres PORT [EXTRA postgres -c OPTIONS]   sets PG_URL; returns non-zero if it cannot start
#   stop_postgres                                     stops it and removes its directory
PG_DIR=""
PG_CTL=()
start_postgres() {
  local port="$1" extra="${2:-}" bindir
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "PostgreSQL server binaries not found under /usr/lib/postgresql"
    return 1
  fi
  PG_DIR="$(mktemp -d /tmp/latchkey-pg.XXXXXX)"
  local run=()
  if [ "$(id -u)" = "0" ]; then
    chown postgres:postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; return 1; }
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=400 $extra" \
    >/dev/null || { cat "$PG_DIR/server.log"; return 1; }
  PG_CTL=("${run[@]}" "$bindir/pg_ctl")
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
stop_postgres() {
  if [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_CTL[@]}" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for the tests, never the system's service:
#   scripts/postgres.sh start DIR PORT   makes (once) and starts a cluster in DIR,
#                                        listening on 127.0.0.1:PORT with its socket
#                                        in DIR, and prints its base URL
#   scripts/postgres.sh stop DIR         stops it (by the PID in DIR/data/postmaster.pid)
# Local connections are trusted: the cluster listens on loopback only and holds
# nothing but throwaway test databases. Databases are made with the C collation,
# which sorts as SQLite does.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/postgres" ] || { echo "postgres.sh: PostgreSQL 15 is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }

# initdb and postgres refuse to run as root: as root, the cluster belongs to
# the postgres user the Debian package made.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:?usage: postgres.sh start DIR PORT | stop DIR}
dir=${2:?a directory}
case "$cmd" in
start)
    port=${3:?a port}
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --locale=C -E UTF8 >"$dir/initdb.log"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400 -c fsync=on" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port"
    ;;
stop)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    ;;
*)
    echo "usage: postgres.sh start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac

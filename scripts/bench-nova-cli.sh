#!/usr/bin/env bash
# Times `nova list` from process start to exit with the native client and with
# python-novaclient, against one freshly started `oxistack serve` (fake
# driver, release build) holding a few servers, with hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
if ! command -v hyperfine >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get install -y -qq --no-install-recommends hyperfine
fi
[ -x "$OXISTACK_VENV/bin/nova" ] || { echo "run scripts/test.sh once first: it installs python-novaclient"; exit 1; }
cargo build --release --bins --quiet

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$CARGO_TARGET_DIR/release/oxistack" serve --data-dir "$work/data" --listen "127.0.0.1:$port" \
    --compute-driver fake >"$work/log" 2>&1 &
pid=$!
trap 'kill "$pid"; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -f "$work/data/admin-openrc.sh" ] && break; sleep 0.1; done
sleep 0.5
source "$work/data/admin-openrc.sh"

native="$CARGO_TARGET_DIR/release/nova"
head -c 65536 /dev/zero >"$work/disk.raw"
"$OXISTACK_VENV/bin/openstack" image create --disk-format raw --container-format bare --file "$work/disk.raw" \
    bench -f value -c id >"$work/image"
for n in 1 2 3 4 5; do
    "$native" boot --flavor 1 --image "$(cat "$work/image")" --nic none "bench$n" >/dev/null
done
sleep 1
hyperfine --warmup 3 --runs "${RUNS:-20}" -N \
    --command-name "native nova list" "$native list" \
    --command-name "python-novaclient nova list" "$OXISTACK_VENV/bin/nova list" \
    --export-markdown "$work/result.md"
cat "$work/result.md"

#!/usr/bin/env bash
# Times `nova list` from process start to exit with the native client and with
# python-novaclient, against one freshly started `oxistack serve` (fake
# driver, release build) holding a few servers, with hyperfine; then measures
# each client's CPU time, the server's, and a password login's alone.
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

# Measured, not inferred: the CPU each client process uses per `nova list`
# (its own user + system time), the server's CPU per `nova list` (from
# /proc/<pid>/stat), and the server's CPU and wall time per password login
# alone (what every `nova list` starts with).
python3 - "$native" "$OXISTACK_VENV/bin/nova" "$pid" <<'PY'
import json, os, resource, subprocess, sys, time, urllib.request

native, python, server_pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
tick = os.sysconf("SC_CLK_TCK")
RUNS = int(os.environ.get("CPU_RUNS", "50"))


def server_cpu():
    fields = open(f"/proc/{server_pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


print()
print(f"| per `nova list` ({RUNS} runs) | client CPU ms | server CPU ms |")
print("|---|---|---|")
for name, binary in (("native nova", native), ("python-novaclient", python)):
    c0, s0 = children_cpu(), server_cpu()
    for _ in range(RUNS):
        subprocess.run([binary, "list"], check=True, stdout=subprocess.DEVNULL, timeout=60)
    c1, s1 = children_cpu(), server_cpu()
    print(f"| {name} | {(c1 - c0) / RUNS * 1e3:.1f} | {(s1 - s0) / RUNS * 1e3:.1f} |")

body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": os.environ["OS_USERNAME"], "domain": {"name": os.environ.get("OS_USER_DOMAIN_NAME", "Default")},
    "password": os.environ["OS_PASSWORD"]}}}, "scope": {"project": {"name": os.environ["OS_PROJECT_NAME"],
    "domain": {"id": os.environ.get("OS_PROJECT_DOMAIN_ID", "default")}}}}}).encode()
url = os.environ["OS_AUTH_URL"].rstrip("/") + "/auth/tokens?nocatalog"
walls, s0 = [], server_cpu()
for _ in range(RUNS):
    t = time.perf_counter()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()
    walls.append(time.perf_counter() - t)
s1 = server_cpu()
walls.sort()
print()
print(f"| password login alone ({RUNS} runs) | wall ms, median | server CPU ms, mean |")
print("|---|---|---|")
print(f"| `POST /v3/auth/tokens` | {walls[len(walls) // 2] * 1e3:.1f} | {(s1 - s0) / RUNS * 1e3:.1f} |")
PY

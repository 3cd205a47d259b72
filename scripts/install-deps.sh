#!/usr/bin/env bash
# Installs what building and testing Oxistack needs on Debian 12 and is missing:
# a C compiler, Python's venv, QEMU (qemu-img, qemu-system-x86_64), the config
# drive's genisoimage, an SSH client, PostgreSQL 15 (for the tests on that
# engine, which start their own private cluster), rclone (a client of Object
# Storage the tests drive), a Rust toolchain. Safe to run again. With --bench
# it also installs Debian's Swift servers, which the object benchmark measures
# beside Oxistack.
set -euo pipefail

need=()
command -v cc >/dev/null || need+=(build-essential)
command -v curl >/dev/null || need+=(curl ca-certificates)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v ssh >/dev/null || need+=(openssh-client)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v rclone >/dev/null || need+=(rclone)
if [ "${1:-}" = --bench ]; then
    for kind in proxy account container object; do
        command -v "swift-$kind-server" >/dev/null || need+=("swift-$kind")
    done
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    # No system-wide PostgreSQL: the package's own cluster is not made, and no
    # service is started by the install (policy-rc.d refuses them while it runs).
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/oxistack.conf >/dev/null
    no_start=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        no_start=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$no_start" >/dev/null
        $SUDO chmod +x "$no_start"
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
    [ -z "$no_start" ] || $SUDO rm -f "$no_start"
fi
# Debian 12's qemu-system-x86 conflicts with a newer qemu-utils from
# backports, and apt resolves that by removing qemu-utils: put it back.
if ! command -v qemu-img >/dev/null; then
    echo "installing Debian packages: qemu-utils"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends qemu-utils
fi
for tool in qemu-img qemu-system-x86_64 genisoimage ssh rclone /usr/lib/postgresql/15/bin/postgres; do
    command -v "$tool" >/dev/null || { echo "install-deps: $tool is still missing" >&2; exit 1; }
done

if ! command -v cargo >/dev/null; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "installing the Rust toolchain with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi

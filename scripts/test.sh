#!/usr/bin/env bash
# Runs the whole test suite: formatting and lints, the Rust tests, then the real
# OpenStack clients (installed from PyPI into a venv) against freshly started
# `oxistack serve` processes, real QEMU guests of the test image among them.
# The services' integration tests and the client suite run twice: on SQLite,
# the embedded default, and on PostgreSQL, in a private cluster this script
# starts on a loopback port and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-deps.sh
source scripts/env.sh

if [ ! -x "$OXISTACK_VENV/bin/pytest" ] || ! cmp -s tests/clients/requirements.txt "$OXISTACK_VENV/requirements.txt"; then
    echo "installing the OpenStack clients into $OXISTACK_VENV"
    python3 -m venv "$OXISTACK_VENV"
    "$OXISTACK_VENV/bin/pip" install -q --disable-pip-version-check -r tests/clients/requirements.txt
    cp tests/clients/requirements.txt "$OXISTACK_VENV/requirements.txt"
fi

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo build --bins --quiet
cargo test --quiet

pg_dir=$(mktemp -d /tmp/oxistack-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
trap 'scripts/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
pg_url=$(scripts/postgres.sh start "$pg_dir" "$pg_port")
echo "the services' integration tests on PostgreSQL ($pg_url)"
OXISTACK_TEST_POSTGRES=$pg_url cargo test --quiet --test it

# The QEMU tests boot the test image; a failed build fails the run. Only an
# explicit OXISTACK_SKIP_QEMU=1 leaves them out, and pytest's summary says so.
if [ "${OXISTACK_SKIP_QEMU:-}" = 1 ]; then
    echo "OXISTACK_SKIP_QEMU=1: the QEMU tests are skipped"
else
    guest_image=$(scripts/build-test-image.sh)
    export OXISTACK_GUEST_IMAGE=$guest_image
fi
export OXISTACK_BIN="$CARGO_TARGET_DIR/debug/oxistack"
export OXISTACK_NOVA="$CARGO_TARGET_DIR/debug/nova"
export PATH="$OXISTACK_VENV/bin:$PATH"
# --durations lists the slowest tests with their times: the QEMU tests among
# them show that guests really booted. Both engines run, and either failing
# fails the run.
status=0
echo "the client suite on SQLite"
pytest -q -rs --durations=12 -p no:cacheprovider tests/clients "$@" || status=$?
echo "the client suite on PostgreSQL"
OXISTACK_TEST_POSTGRES=$pg_url pytest -q -rs --durations=12 -p no:cacheprovider tests/clients "$@" || status=$?
exit $status

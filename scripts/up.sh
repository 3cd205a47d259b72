#!/usr/bin/env bash
# Installs what is missing, builds Oxistack and its test image, and starts the
# whole cloud on its embedded default (SQLite in the data dir), the test image
# registered as `oxistack-test`. Arguments go to `oxistack serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-deps.sh
source scripts/env.sh
cargo build --release --bins
test_image=$(scripts/build-test-image.sh)
exec "$CARGO_TARGET_DIR/release/oxistack" serve --test-image "$test_image" "$@"

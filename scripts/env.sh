# Shared settings of the project's scripts (sourced, not run).
# Builds and the clients' venv live outside the clone, so that a fresh clone
# reuses them when they exist and rebuilds them when they do not.
export PATH="$HOME/.cargo/bin:$PATH"
export OXISTACK_CACHE="${OXISTACK_CACHE:-$HOME/.cache/oxistack}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OXISTACK_CACHE/target}"
export OXISTACK_VENV="${OXISTACK_VENV:-$OXISTACK_CACHE/venv}"

#!/usr/bin/env bash
# The one way Pulse CRM is installed and started outside a developer's checkout: the
# Dockerfile runs `install` and starts every container with `start`, and .ci/run runs the
# same two steps in a plain environment, so the container recipe cannot drift from what is
# tested. systemd units (docs/operations.md) call it too.
#
#   deploy/pulsecrm.sh install            a virtual environment at $PULSECRM_HOME from the
#                                         hash-locked requirements.txt, then this package
#   deploy/pulsecrm.sh start ROLE [ARGS]  ROLE: serve | worker | vendor | migrate | doctor
#
# PULSECRM_HOME defaults to /opt/pulsecrm. Everything else is configured by PULSECRM_*
# variables (see .env.example); nothing is read from this script's directory at run time.
set -euo pipefail

home="${PULSECRM_HOME:-/opt/pulsecrm}"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

install() {
    local python="${PYTHON:-python3}"
    "$python" -m venv "$home"
    "$home/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check \
        --require-hashes -r "$src/requirements.txt"
    # The build backend is pinned in requirements.txt, so no build isolation (no download).
    "$home/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check \
        --no-deps --no-build-isolation "$src"
    "$home/bin/pulsecrm" --help >/dev/null
    echo "installed pulsecrm into $home"
}

start() {
    local role="${1:-}"
    [ -n "$role" ] || usage
    shift
    case "$role" in
        serve | worker | vendor | migrate | doctor) ;;
        *) usage ;;
    esac
    # The metrics directory (multiprocess mode) must exist and be ours before Python starts.
    if [ -n "${PULSECRM_METRICS_DIR:-}" ]; then
        mkdir -p "$PULSECRM_METRICS_DIR"
    fi
    exec "$home/bin/pulsecrm" "$role" "$@"
}

case "${1:-}" in
    install) install ;;
    start) shift; start "$@" ;;
    *) usage ;;
esac

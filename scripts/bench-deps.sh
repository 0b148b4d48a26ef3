#!/usr/bin/env bash
# What `make bench-compare` needs beyond the Python and npm packages: Debian's `wrk` (the C load
# generator of the wrk GET rows) and a Redis server on 127.0.0.1:6379 (motia-core on Redis and
# the hand-built BullMQ stack). Installs or starts the missing ones the way scripts/system-deps.sh
# does (root with apt-get); otherwise says what is missing, and those rows of the comparison say
# why they have no figures (a benchmark, not a test: nothing fails).
set -euo pipefail

# shellcheck source=system-deps.sh
source "$(dirname "$0")/system-deps.sh"

if ! command -v wrk >/dev/null 2>&1; then
    if can_install; then
        echo "installing from Debian's packages: wrk"
        apt_install wrk
        echo "installed: wrk"
    else
        echo "not installed: wrk (as root: apt-get install wrk); the wrk GET rows will be empty" >&2
    fi
fi
ensure_redis

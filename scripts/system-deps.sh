#!/usr/bin/env bash
# The system programs the tests need beyond Python, Node.js and npm: Ruby (the Ruby runner's
# tests), Chromium (the browser tests) and a Redis server on 127.0.0.1:6379 (the Redis adapters'
# tests). Installs the missing ones from Debian's packages when it can (root with apt-get) and
# says what it installed or started; otherwise it names what is missing and the tests that need
# it skip (under CI=true they fail: CI must run them all).
set -euo pipefail

REDIS_HOST=127.0.0.1
REDIS_PORT=6379

can_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

apt_updated=no
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" = no ]; then
        apt-get update -qq
        apt_updated=yes
    fi
    apt-get install -y -qq "$@" >/dev/null
}

# True when a Redis server answers PING on $REDIS_HOST:$REDIS_PORT (bash's /dev/tcp: no client
# program needed).
redis_answers() {
    local reply=""
    {
        exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" &&
            printf 'PING\r\n' >&3 &&
            read -r -t 2 reply <&3
    } 2>/dev/null || true
    exec 3<&- 2>/dev/null || true
    [[ "$reply" == "+PONG"* ]]
}

ensure_redis() {
    if [ -n "${MOTIA_TEST_REDIS_URL:-}" ]; then
        return 0  # the tests use the server named there; not ours to start
    fi
    if redis_answers; then
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1; then
        if ! can_install; then
            echo "no Redis answers on $REDIS_HOST:$REDIS_PORT and redis-server is not installed" \
                 "(as root: apt-get install redis-server); the Redis tests will skip" >&2
            return 0
        fi
        echo "installing from Debian's packages: redis-server"
        apt_install redis-server
        echo "installed: redis-server"
    fi
    # Loopback only, nothing written to disk: a scratch server for the test run.
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" \
        --appendonly no >/dev/null
    for _ in $(seq 50); do  # bounded: up to ~5 s for it to answer
        if redis_answers; then
            echo "started redis-server on $REDIS_HOST:$REDIS_PORT (daemonized, no persistence)"
            return 0
        fi
        sleep 0.1
    done
    echo "started redis-server on $REDIS_HOST:$REDIS_PORT but it does not answer;" \
         "the Redis tests will skip (fail under CI=true)" >&2
}

# scripts/bench-deps.sh sources this file for its functions; run, it installs what the tests need.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    # command on PATH -> Debian package that provides it
    declare -A PACKAGES=([ruby]=ruby [chromium]=chromium)

    missing=()
    for command in "${!PACKAGES[@]}"; do
        command -v "$command" >/dev/null 2>&1 || missing+=("$command")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        packages=()
        for command in "${missing[@]}"; do packages+=("${PACKAGES[$command]}"); done
        if can_install; then
            echo "installing from Debian's packages: ${packages[*]}"
            apt_install "${packages[@]}"
            echo "installed: ${packages[*]}"
        else
            echo "not installed: ${missing[*]} (as root: apt-get install ${packages[*]});" \
                 "the tests that need them will skip" >&2
        fi
    fi

    ensure_redis
fi

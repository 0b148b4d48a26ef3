#!/usr/bin/env bash
# The system programs the tests need beyond Python, Node.js and npm: Ruby (the Ruby runner's
# tests) and Chromium (the browser tests). Installs the missing ones from Debian's packages when
# it can (root with apt-get) and says what it installed; otherwise it names what is missing and
# the tests that need it skip (under CI=true they fail: CI must run them all).
set -euo pipefail

# command on PATH -> Debian package that provides it
declare -A PACKAGES=([ruby]=ruby [chromium]=chromium)

missing=()
for command in "${!PACKAGES[@]}"; do
    command -v "$command" >/dev/null 2>&1 || missing+=("$command")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

packages=()
for command in "${missing[@]}"; do packages+=("${PACKAGES[$command]}"); done

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing from Debian's packages: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}" >/dev/null
    echo "installed: ${packages[*]}"
else
    echo "not installed: ${missing[*]} (as root: apt-get install ${packages[*]});" \
         "the tests that need them will skip" >&2
fi

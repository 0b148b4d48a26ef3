#!/usr/bin/env bash
# The hand-built stack as one process tree for the benchmark: the Fastify endpoint, the Node
# worker and the Python worker (what docker compose, pm2 or systemd would run side by side).
# Usage: run.sh PORT. Exits when any of the three exits; SIGTERM to the group stops them all
# and this script waits for their graceful close.
set -u
here=$(cd "$(dirname "$0")" && pwd)
python=${HANDBUILT_PYTHON:-python3}
HANDBUILT_PORT=$1 node "$here/server.js" &
node "$here/worker-record.js" &
"$python" "$here/worker_done.py" &
trap 'wait; exit 0' TERM INT
wait -n
status=$?
echo "handbuilt: a process exited (status $status); stopping the others" >&2
kill $(jobs -p) 2>/dev/null
wait
exit 1

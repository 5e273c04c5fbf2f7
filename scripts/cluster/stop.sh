#!/usr/bin/env bash
# Stops the local cluster started by scripts/cluster/start.sh (SIGTERM, by PID), then the local
# S3 server if start.sh --s3 started one (its data stays in .scribe-cluster/s3).
cd "$(dirname "$0")/../.."
for i in 1 2 3; do
  pidfile=.scribe-cluster/node$i.pid
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" && echo "node $i stopped (pid $pid)"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
done
pidfile=.scribe-cluster/s3.pid
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" && echo "S3 server stopped (pid $pid)"; fi
  rm -f "$pidfile"
fi

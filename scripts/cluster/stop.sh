#!/usr/bin/env bash
# Stops the local cluster started by scripts/cluster/start.sh (SIGTERM, by PID).
cd "$(dirname "$0")/../.."
for i in 1 2 3; do
  pidfile=.scribe-cluster/node$i.pid
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" && echo "node $i stopped (pid $pid)"; fi
  rm -f "$pidfile"
done

#!/usr/bin/env bash
# Starts a local 3-node cluster (ports 8001-8003 HTTP, 9001-9003 Raft, data in ./data/node1..3).
# The first start initializes the cluster (--bootstrap); later starts resume from disk.
# Logs and PIDs go to ./.scribe-cluster/. Stop it with scripts/cluster/stop.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .scribe-cluster
for i in 1 2 3; do
  pidfile=.scribe-cluster/node$i.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "node $i already running (pid $(cat "$pidfile"))"
    continue
  fi
  nohup bun src/main.ts --config "scripts/cluster/config-node$i.toml" --bootstrap > ".scribe-cluster/node$i.log" 2>&1 &
  echo $! > "$pidfile"
  echo "node $i started (pid $!), log .scribe-cluster/node$i.log"
done
for _ in $(seq 1 100); do
  if curl -sf http://127.0.0.1:8001/cluster/leader/info > /dev/null 2>&1; then
    curl -s http://127.0.0.1:8001/cluster/leader/info; echo
    exit 0
  fi
  sleep 0.2
done
echo "no leader after 20 s; see .scribe-cluster/node*.log" >&2
exit 1

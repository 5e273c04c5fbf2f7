#!/usr/bin/env bash
# Starts a local 3-node cluster (HTTP 8001-8003, Raft 9001-9003, data in ./data/node1..3).
# The first start initializes the cluster (--bootstrap); later starts resume from disk.
# Logs and PIDs go to ./.scribe-cluster/. Stop it with scripts/cluster/stop.sh.
#
#   scripts/cluster/start.sh          # no cold tier
#   scripts/cluster/start.sh --s3     # plus a cold tier in S3: a local s3rver on 127.0.0.1:${S3_PORT:-9000}
#                                     # (bun scripts/s3-server.ts, data in .scribe-cluster/s3), or the server
#                                     # at S3_ENDPOINT (MinIO: also S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)
# Ports: HTTP_PORT_BASE (default 8000) and RAFT_PORT_BASE (default 9000); node i gets base + i. They are
# fixed at the first start (kept in .scribe-cluster/ports.env: the cluster's members are recorded then).
# With --s3, segments are small and seal fast (64 KiB or 10 s; the leader looks every 5 s) so a short
# session archives; override with SCRIBE_STORAGE_SEGMENT_SIZE, SCRIBE_STORAGE_TIERING_AGE_THRESHOLD_SECS
# and SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS. The S3 settings reach the nodes as SCRIBE_*
# environment variables, kept in .scribe-cluster/s3.env so a later start.sh --s3 and check.sh use them.
# The cluster secret is made once (scribe-node gen-secret) into .scribe-cluster/cluster-secret
# (mode 0600) and reaches the nodes as SCRIBE_DISCOVERY_CLUSTER_SECRET (export it to use your own).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .scribe-cluster

s3=false
for arg in "$@"; do
  case "$arg" in
    --s3) s3=true ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (use --s3 or --help)" >&2; exit 2 ;;
  esac
done

if ! $s3 && [ -f .scribe-cluster/s3.env ]; then
  echo "this cluster was started with --s3 (.scribe-cluster/s3.env): start it with --s3 again," >&2
  echo "or remove .scribe-cluster/ and data/node1..3 for a fresh cluster without S3" >&2
  exit 2
fi

# Ports: chosen at the first start, then kept (a member's address is part of the cluster's state).
if [ -f .scribe-cluster/ports.env ]; then
  wanted_http=${HTTP_PORT_BASE:-} wanted_raft=${RAFT_PORT_BASE:-}
  # shellcheck disable=SC1091
  . .scribe-cluster/ports.env
  if { [ -n "$wanted_http" ] && [ "$wanted_http" != "$HTTP_PORT_BASE" ]; } || { [ -n "$wanted_raft" ] && [ "$wanted_raft" != "$RAFT_PORT_BASE" ]; }; then
    echo "this cluster uses HTTP_PORT_BASE=$HTTP_PORT_BASE RAFT_PORT_BASE=$RAFT_PORT_BASE (.scribe-cluster/ports.env);" >&2
    echo "remove .scribe-cluster/ and data/node1..3 for a fresh cluster on other ports" >&2
    exit 2
  fi
else
  HTTP_PORT_BASE=${HTTP_PORT_BASE:-8000}
  RAFT_PORT_BASE=${RAFT_PORT_BASE:-9000}
  printf 'HTTP_PORT_BASE=%s\nRAFT_PORT_BASE=%s\n' "$HTTP_PORT_BASE" "$RAFT_PORT_BASE" > .scribe-cluster/ports.env
fi
members="["
for i in 1 2 3; do
  members+="{\"id\":$i,\"address\":\"127.0.0.1:$((RAFT_PORT_BASE + i))\",\"client\":\"127.0.0.1:$((HTTP_PORT_BASE + i))\"}"
  if [ "$i" -lt 3 ]; then members+=","; fi
done
members+="]"

if $s3; then
  if [ -n "${S3_ENDPOINT:-}" ]; then
    endpoint=$S3_ENDPOINT
    bucket=${S3_BUCKET:-scribe}
    access_key=${S3_ACCESS_KEY_ID:?set S3_ACCESS_KEY_ID for $S3_ENDPOINT}
    secret_key=${S3_SECRET_ACCESS_KEY:?set S3_SECRET_ACCESS_KEY for $S3_ENDPOINT}
    echo "cold tier: S3 at $endpoint, bucket $bucket"
  else
    port=${S3_PORT:-9000}
    endpoint="http://127.0.0.1:$port"
    bucket=scribe
    access_key=S3RVER
    secret_key=S3RVER
    pidfile=.scribe-cluster/s3.pid
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "S3 server already running (pid $(cat "$pidfile"))"
    else
      nohup bun scripts/s3-server.ts --port "$port" --dir .scribe-cluster/s3 --bucket "$bucket" > .scribe-cluster/s3.log 2>&1 &
      echo $! > "$pidfile"
      for _ in $(seq 1 100); do
        grep -q '^S3 endpoint=' .scribe-cluster/s3.log 2>/dev/null && break
        kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "the S3 server exited; see .scribe-cluster/s3.log" >&2; exit 1; }
        sleep 0.1
      done
      grep -q '^S3 endpoint=' .scribe-cluster/s3.log || { echo "the S3 server did not start; see .scribe-cluster/s3.log" >&2; exit 1; }
      echo "S3 server started (pid $(cat "$pidfile")) at $endpoint, bucket $bucket, log .scribe-cluster/s3.log"
    fi
  fi
  cat > .scribe-cluster/s3.env <<ENV
export SCRIBE_STORAGE_S3_BUCKET=$bucket
export SCRIBE_STORAGE_S3_ENDPOINT=$endpoint
export SCRIBE_STORAGE_S3_REGION=${S3_REGION:-us-east-1}
export SCRIBE_STORAGE_S3_ACCESS_KEY_ID=$access_key
export SCRIBE_STORAGE_S3_SECRET_ACCESS_KEY=$secret_key
export SCRIBE_STORAGE_S3_PATH_STYLE=true
export SCRIBE_STORAGE_S3_PREFIX=${S3_PREFIX:-local-cluster}
export SCRIBE_STORAGE_SEGMENT_SIZE=${SCRIBE_STORAGE_SEGMENT_SIZE:-65536}
export SCRIBE_STORAGE_TIERING_AGE_THRESHOLD_SECS=${SCRIBE_STORAGE_TIERING_AGE_THRESHOLD_SECS:-10}
export SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS=${SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS:-5}
ENV
  # shellcheck disable=SC1091
  . .scribe-cluster/s3.env
  echo "cold tier: segments seal at $SCRIBE_STORAGE_SEGMENT_SIZE bytes or after $SCRIBE_STORAGE_TIERING_AGE_THRESHOLD_SECS s; the leader archives every $SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS s"
fi

if [ -z "${SCRIBE_DISCOVERY_CLUSTER_SECRET:-}" ]; then
  secret_file=.scribe-cluster/cluster-secret
  if [ ! -s "$secret_file" ]; then
    (umask 077 && bun src/main.ts gen-secret > "$secret_file.tmp" && mv "$secret_file.tmp" "$secret_file")
    echo "made a cluster secret in $secret_file"
  fi
  SCRIBE_DISCOVERY_CLUSTER_SECRET=$(cat "$secret_file")
  export SCRIBE_DISCOVERY_CLUSTER_SECRET
fi

for i in 1 2 3; do
  pidfile=.scribe-cluster/node$i.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "node $i already running (pid $(cat "$pidfile"))"
    continue
  fi
  SCRIBE_NETWORK_CLIENT_PORT=$((HTTP_PORT_BASE + i)) SCRIBE_NETWORK_RAFT_PORT=$((RAFT_PORT_BASE + i)) SCRIBE_CONSENSUS_CLUSTER_MEMBERS=$members \
    nohup bun src/main.ts --config "scripts/cluster/config-node$i.toml" --bootstrap > ".scribe-cluster/node$i.log" 2>&1 &
  echo $! > "$pidfile"
  echo "node $i started (pid $!) on HTTP $((HTTP_PORT_BASE + i)), Raft $((RAFT_PORT_BASE + i)); log .scribe-cluster/node$i.log"
done
for _ in $(seq 1 100); do
  if curl -sf "http://127.0.0.1:$((HTTP_PORT_BASE + 1))/cluster/leader/info" > /dev/null 2>&1; then
    curl -s "http://127.0.0.1:$((HTTP_PORT_BASE + 1))/cluster/leader/info"; echo
    exit 0
  fi
  sleep 0.2
done
echo "no leader after 20 s; see .scribe-cluster/node*.log" >&2
exit 1

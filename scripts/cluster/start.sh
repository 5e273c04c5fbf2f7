#!/usr/bin/env bash
# Starts a local 3-node cluster (ports 8001-8003 HTTP, 9001-9003 Raft, data in ./data/node1..3).
# The first start initializes the cluster (--bootstrap); later starts resume from disk.
# Logs and PIDs go to ./.scribe-cluster/. Stop it with scripts/cluster/stop.sh.
#
#   scripts/cluster/start.sh          # no cold tier
#   scripts/cluster/start.sh --s3     # plus a cold tier in S3: a local s3rver on 127.0.0.1:${S3_PORT:-9000}
#                                     # (bun scripts/s3-server.ts, data in .scribe-cluster/s3), or the server
#                                     # at S3_ENDPOINT (MinIO: also S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY)
# The S3 settings reach the nodes as SCRIBE_STORAGE_S3_* environment variables; they are kept in
# .scribe-cluster/s3.env so a later start.sh --s3 and check.sh use the same ones.
# The cluster secret is made once (scribe-node gen-secret) into .scribe-cluster/cluster-secret
# (mode 0600) and reaches the nodes as SCRIBE_DISCOVERY_CLUSTER_SECRET (export it to use your own).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .scribe-cluster

s3=false
for arg in "$@"; do
  case "$arg" in
    --s3) s3=true ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (use --s3 or --help)" >&2; exit 2 ;;
  esac
done

if ! $s3 && [ -f .scribe-cluster/s3.env ]; then
  echo "this cluster was started with --s3 (.scribe-cluster/s3.env): start it with --s3 again," >&2
  echo "or remove .scribe-cluster/ and data/node1..3 for a fresh cluster without S3" >&2
  exit 2
fi

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
export SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS=${SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS:-5}
ENV
  # shellcheck disable=SC1091
  . .scribe-cluster/s3.env
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

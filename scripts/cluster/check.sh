#!/usr/bin/env bash
# Checks the local cluster: every node's role, term, leader and applied index; then writes through
# one node and reads the value back, linearizably, from every node. With --s3 (or when start.sh
# --s3 left .scribe-cluster/s3.env), also checks the S3 endpoint answers and every node runs the
# cold tier, and prints its counters.
set -euo pipefail
cd "$(dirname "$0")/../.."
s3=false
[ -f .scribe-cluster/s3.env ] && s3=true
for arg in "$@"; do
  case "$arg" in
    --s3) s3=true ;;
    *) echo "unknown option: $arg (use --s3)" >&2; exit 2 ;;
  esac
done
status=0
for i in 1 2 3; do
  if info=$(curl -sf "http://127.0.0.1:800$i/cluster/info"); then
    echo "node $i: $(echo "$info" | bun -e 'const s = JSON.parse(await Bun.stdin.text()); console.log(`role=${s.role} term=${s.term} leader=${s.leader_id} commit=${s.commit_index} applied=${s.applied_index} ledger=${s.ledger_size}`)')"
  else
    echo "node $i: not answering"; status=1
  fi
done
key="cluster-check-$(date +%s%N)"
curl -sf -X PUT "http://127.0.0.1:8002/kv/$key" -d "written through node 2" > /dev/null || { echo "write through node 2 failed"; exit 1; }
for i in 1 2 3; do
  value=$(curl -sf "http://127.0.0.1:800$i/kv/$key" || true)
  if [ "$value" = "written through node 2" ]; then echo "node $i reads the write"; else echo "node $i: wrong read: '$value'"; status=1; fi
done
if $s3; then
  [ -f .scribe-cluster/s3.env ] || { echo "no .scribe-cluster/s3.env: start the cluster with start.sh --s3"; exit 1; }
  # shellcheck disable=SC1091
  . .scribe-cluster/s3.env
  if curl -s -o /dev/null "$SCRIBE_STORAGE_S3_ENDPOINT/"; then echo "S3 endpoint $SCRIBE_STORAGE_S3_ENDPOINT answers"; else echo "S3 endpoint $SCRIBE_STORAGE_S3_ENDPOINT does not answer"; status=1; fi
  for i in 1 2 3; do
    cold=$(curl -sf "http://127.0.0.1:800$i/metrics" | bun -e 'const m = JSON.parse(await Bun.stdin.text()); const c = m.cold ?? {}; console.log(c.enabled ? `cold tier on: uploads=${c.uploads ?? 0} bytes=${c.bytes ?? 0} errors=${c.errors ?? 0} backlog=${c.backlog_entries ?? 0} archived_index=${c.archived_index ?? 0}` : "cold tier OFF")' || echo "no metrics")
    echo "node $i: $cold"
    case "$cold" in "cold tier on"*) ;; *) status=1 ;; esac
  done
fi
exit $status

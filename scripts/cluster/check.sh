#!/usr/bin/env bash
# Checks the local cluster: every node's role, term, leader, applied index and readiness (GET /ready,
# with the reasons when not ready); then writes through
# node 2 and reads the value back, linearizably, from every node. With --s3 (or when start.sh --s3
# left .scribe-cluster/s3.env), also checks that the S3 endpoint answers, lists the bucket's objects
# with their sizes and how many segments are archived (scripts/cluster/s3-objects.ts), and prints
# every node's cold tier (archival role, uploads, the cluster's archived index and backlog).
#
#   scripts/cluster/check.sh [--s3] [--wait SECS]
#
# --wait SECS: wait up to SECS seconds for a segment to be archived (fails if none is).
# Ports come from .scribe-cluster/ports.env (written by start.sh), else HTTP_PORT_BASE (default 8000).
set -euo pipefail
cd "$(dirname "$0")/../.."
s3=false
wait_secs=""
[ -f .scribe-cluster/s3.env ] && s3=true
while [ $# -gt 0 ]; do
  case "$1" in
    --s3) s3=true ;;
    --wait) shift; wait_secs=${1:?--wait needs seconds} ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (use --s3, --wait SECS or --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -f .scribe-cluster/ports.env ]; then
  # shellcheck disable=SC1091
  . .scribe-cluster/ports.env
fi
HTTP_PORT_BASE=${HTTP_PORT_BASE:-8000}
url() { echo "http://127.0.0.1:$((HTTP_PORT_BASE + $1))"; }

status=0
for i in 1 2 3; do
  if info=$(curl -sf "$(url "$i")/cluster/info"); then
    echo "node $i: $(echo "$info" | bun -e 'const s = JSON.parse(await Bun.stdin.text()); console.log(`role=${s.role} term=${s.term} leader=${s.leader_id} commit=${s.commit_index} applied=${s.applied_index} ledger=${s.ledger_size}`)')"
    # GET /ready: 200 when ready, 503 with the reasons when not.
    if ready=$(curl -s "$(url "$i")/ready"); then
      verdict=$(echo "$ready" | bun -e 'const r = JSON.parse(await Bun.stdin.text()); console.log(r.ready ? "ready" : `NOT ready: ${(r.reasons ?? []).join("; ")}`)' 2>/dev/null || echo "NOT ready: no readiness answer")
      echo "node $i: $verdict"
      case "$verdict" in ready) ;; *) status=1 ;; esac
    fi
  else
    echo "node $i: not answering"; status=1
  fi
done
key="cluster-check-$(date +%s%N)"
curl -sf -X PUT "$(url 2)/kv/$key" -H 'Content-Type: text/plain' --data-binary "written through node 2" > /dev/null || { echo "write through node 2 failed"; exit 1; }
for i in 1 2 3; do
  value=$(curl -sf "$(url "$i")/kv/$key" || true)
  if [ "$value" = "written through node 2" ]; then echo "node $i reads the write"; else echo "node $i: wrong read: '$value'"; status=1; fi
done
if $s3; then
  [ -f .scribe-cluster/s3.env ] || { echo "no .scribe-cluster/s3.env: start the cluster with start.sh --s3"; exit 1; }
  # shellcheck disable=SC1091
  . .scribe-cluster/s3.env
  if curl -s -o /dev/null "$SCRIBE_STORAGE_S3_ENDPOINT/"; then echo "S3 endpoint $SCRIBE_STORAGE_S3_ENDPOINT answers"; else echo "S3 endpoint $SCRIBE_STORAGE_S3_ENDPOINT does not answer"; status=1; fi
  bun scripts/cluster/s3-objects.ts ${wait_secs:+--wait "$wait_secs"} || status=1
  for i in 1 2 3; do
    cold=$(curl -sf "$(url "$i")/metrics" | bun -e '
      const c = JSON.parse(await Bun.stdin.text()).cold ?? {};
      const known = (v) => (v === null || v === undefined ? "unknown yet" : v);
      console.log(c.enabled
        ? `cold tier on (${c.archival_role}): uploads=${c.uploads ?? 0} bytes=${c.bytes ?? 0} errors=${c.errors ?? 0} archived_index=${known(c.archived_index)} backlog=${known(c.backlog_entries)}`
        : "cold tier OFF")' || echo "no metrics")
    echo "node $i: $cold"
    case "$cold" in "cold tier on"*) ;; *) status=1 ;; esac
  done
fi
exit $status

#!/usr/bin/env bash
# Checks the local cluster: every node's role, term, leader and applied index; then writes through
# one node and reads the value back, linearizably, from every node.
set -euo pipefail
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
exit $status

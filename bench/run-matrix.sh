#!/usr/bin/env bash
# Runs the whole replication benchmark matrix once, lightest cells first (the machine is shared: heavy
# cells last, so a disturbed heavy cell can be re-run alone). Each cell writes bench/results/<cell>.json and
# regenerates bench/results/summary.md and the charts. Needs `npm run build` and `npm run setup:peers`.
# Usage: bash bench/run-matrix.sh [cell ...]    (default: all cells below, in this order)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CELLS=("$@")
if ((${#CELLS[@]} == 0)); then
  CELLS=(dbs-1 dbs-10 sparse rate-100 large-tx low-latency rate-1000 rate-5000 dbs-100 throughput-100x100 restore dbs-1000)
fi
failed=()
for c in "${CELLS[@]}"; do
  echo "=== $c ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
  if ! npm run --silent bench -- "bench/configs/$c.toml"; then failed+=("$c"); fi
done
echo "=== done ($(date -u +%H:%M:%S)); failed: ${failed[*]:-none}"
((${#failed[@]} == 0))

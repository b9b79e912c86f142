#!/usr/bin/env bash
# Load benchmark of `takeback serve` (issue 4): POST /v1/match with wrk
# (Debian package `wrk`) against N active pdq signals (default 1,000,000):
# single-hash requests and batches of 100 random hashes (uploads that do not
# match, the common case), then the start-up time with the same database.
#
#   bench/server_wrk.sh [BUILD_DIR] [SIGNALS] [SECONDS]
#
# Prints machine facts, the load average before and after each run and the
# server's CPU time (the 2 cores are shared: wrk itself takes a share).
set -euo pipefail

build=${1:-build-server}
signals=${2:-1000000}
seconds=${3:-20}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$build/src/cli/takeback
work=$(mktemp -d /tmp/takeback_wrk_XXXXXX)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "server_wrk: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, $(date -u +%FT%TZ)"
echo "server_wrk: creating $signals pdq signals"
key=$("$build/bench/server_bench" --make-db "$work/bench.db" --signals "$signals")
export TAKEBACK_API_KEY=$key

"$bin" serve --db "$work/bench.db" --listen 127.0.0.1:0 --threads 64 >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 600); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/out")
cat "$work/err"
cpu() { awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$server/stat"; }

run() {
  local name=$1 script=$2 conns=$3 per_request=$4
  local c0; c0=$(cpu)
  echo "== $name: wrk -t1 -c$conns -d${seconds}s (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
  wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$here/$script" "http://127.0.0.1:$port/v1/match" >"$work/wrk"
  grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors' "$work/wrk"
  local used; used=$(echo "$(cpu) - $c0" | bc)
  local requests; requests=$(awk '/requests in/ {print $1}' "$work/wrk")
  echo "   server CPU during the run: $used s of ${seconds} s wall; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  # The fair figure on a shared machine: server CPU per hash checked.
  [[ -n "$requests" && "$requests" -gt 0 ]] &&
    echo "   server CPU per hash: $(echo "scale=1; $used * 1000000 / ($requests * $per_request)" | bc) us ($requests requests x $per_request hashes)"
  return 0
}
run "single hash" server_wrk_single.lua 16 1
run "batches of 100 hashes" server_wrk_batch.lua 8 100
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^takeback_(hashes_checked_total|index_signals\{type="pdq"\})'
kill -TERM "$server"
wait "$server" || true
echo "== start-up with $signals signals"
"$build/bench/server_bench" --startup "$work/bench.db" --bin "$bin"

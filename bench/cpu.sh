#!/usr/bin/env bash
# CPU time per request of each hello-world server under the same wrk load:
# user and system microseconds per request, read from /proc/PID/stat (Linux).
# Servers run on CPU 0 and wrk on CPU 1. Run after `npm run build`:
#   bash bench/cpu.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
tck=$(getconf CLK_TCK)
declare -A commands=(
  ["canned node:net (reference)"]="node --import tsx bench/peers/canned.ts 0"
  ["tsgi (Fetch)"]="node dist/cli/main.js --port 0 --no-access-log bench/apps/hello_fetch.ts"
  ["tsgi (WSGI-style)"]="node dist/cli/main.js --port 0 --no-access-log bench/apps/hello_wsgi.ts"
  ["node:http"]="node --import tsx bench/peers/node_http.ts 0"
)
for name in "canned node:net (reference)" "tsgi (Fetch)" "tsgi (WSGI-style)" "node:http"; do
  log=$(mktemp)
  taskset -c 0 ${commands[$name]} 2>"$log" &
  pid=$!
  for _ in $(seq 100); do grep -q "Listening on" "$log" && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
  taskset -c 1 wrk -t1 -c100 -d1s "$url/" >/dev/null # warm-up
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  out=$(taskset -c 1 wrk -t1 -c100 -d"${secs}s" "$url/")
  read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -f "$log"
  reqs=$(echo "$out" | grep -oP '\d+(?= requests in)')
  rps=$(echo "$out" | grep -oP 'Requests/sec:\s+\K[\d.]+')
  awk -v n="$name" -v r="$rps" -v u="$((u2 - u1))" -v s="$((s2 - s1))" -v q="$reqs" -v t="$tck" \
    'BEGIN { printf "%-28s %9.0f req/s  user %5.1f us/req  sys %5.1f us/req\n", n, r, u*1e6/t/q, s*1e6/t/q }'
done

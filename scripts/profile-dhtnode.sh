#!/usr/bin/env bash
# Where the dht node's time goes per request (issue 4), in three views:
#   1. syscalls per request  (strace -c over a fixed number of Gets and Puts)
#   2. CPU split by sampling (perf record -e cpu-clock: works without hardware counters, as in
#      VMs; kernel vs node vs libc, send/recv/epoll_wait inclusive, top user-space symbols)
#      (and GetAll of the whole channel next to LZO alone)
#   3. user-space instructions per request (valgrind --tool=callgrind, the difference between a
#      long and a short run, so connection setup cancels out), split by function
# for Get and Put at pipeline 1 and 16, on a release dhtnode loaded with KEYS records of
# VALUE_SIZE bytes, driven by swarm-bench (50 connections). Stops only what it started.
#
#   scripts/profile-dhtnode.sh          # all three views (~3 minutes)
#   VIEWS="perf" scripts/profile-dhtnode.sh
#
# Environment: KEYS (1000000; callgrind uses CG_KEYS, 100000) VALUE_SIZE (100) VIEWS
# ("strace perf callgrind") OUT (directory for perf.data / callgrind files; default a temp dir
# that is kept) CARGO_TARGET_DIR.
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
if [[ $# -gt 0 ]]; then
  echo "$0: takes no arguments, only environment variables (see --help)" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
CG_KEYS=${CG_KEYS:-100000}
VALUE_SIZE=${VALUE_SIZE:-100}
VIEWS=${VIEWS:-strace perf callgrind}
OUT=${OUT:-$(mktemp -d /tmp/profile-dhtnode.XXXXXX)}
mkdir -p "$OUT"
echo "profile-dhtnode: files in $OUT" >&2

cargo build --release -p swarm-dht -p swarm-bench --bin dhtnode --bin swarm-bench >"$OUT/build.log" 2>&1
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$OUT/node/data" "$OUT/cg/data" # the dumps written at shutdown
}
trap cleanup EXIT
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p; while :; do p=$((10000 + RANDOM % 50000)); port_in_use "$p" || { echo "$p"; return; }; done; }
start_node() { # start_node DIR [WRAPPER...]: sets NODE_PID and NODE_PORT
  local dir=$1; shift
  NODE_PORT=$(free_port)
  mkdir -p "$dir"
  sed -e "s/^port = .*/port = $NODE_PORT/" nodes/dht/src/default_config.ini >"$dir/config.ini"
  (cd "$dir" && exec "$@" "$BIN/dhtnode" -c config.ini) >"$dir/node.out" 2>&1 &
  NODE_PID=$!; PIDS+=("$NODE_PID")
  for _ in $(seq 300); do port_in_use "$NODE_PORT" && return 0; sleep 0.1; done
  echo "dhtnode did not start: $(tail -3 "$dir/node.out")" >&2; return 1
}
bench() { "$BIN/swarm-bench" --addr "127.0.0.1:$NODE_PORT" --value-size "$VALUE_SIZE" "$@" 2>/dev/null; }
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

if [[ " $VIEWS " == *" strace "* || " $VIEWS " == *" perf "* ]]; then
  start_node "$OUT/node"
  bench --keys "$KEYS" --load --requests 0
  echo "dhtnode pid $NODE_PID, $KEYS records of $VALUE_SIZE bytes, VmRSS $(awk '/VmRSS/ {print $2, $3}' "/proc/$NODE_PID/status")"
fi

if [[ " $VIEWS " == *" strace "* ]] && command -v strace >/dev/null; then
  echo; echo "== syscalls per request (strace -c, 100000 requests, pipeline 1 and 16)"
  for mix in get put; do
    for p in 1 16; do
      strace -c -f -p "$NODE_PID" -o "$OUT/strace-$mix-p$p.txt" 2>/dev/null &
      spid=$!; sleep 0.5
      bench --keys "$KEYS" --mix $mix --pipeline $p --requests 100000 --json >/dev/null
      sleep 0.2; kill -INT "$spid"; wait "$spid" 2>/dev/null || true
      printf '%-4s pipeline %-2s ' "$mix" "$p"
      # strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall
      awk '$4 ~ /^[0-9]+$/ && $NF ~ /^[a-z_0-9]+$/ && $NF != "total" {
             printf "%s %.3f  ", $NF, $4 / 100000 }' "$OUT/strace-$mix-p$p.txt"
      echo
    done
  done
fi

if [[ " $VIEWS " == *" perf "* ]] && command -v perf >/dev/null; then
  for mix in get put; do
    for p in 1 16; do
      data="$OUT/perf-$mix-p$p.data"
      perf record -q -e cpu-clock -F 2000 -g -p "$NODE_PID" -o "$data" -- sleep 6 >/dev/null 2>&1 &
      ppid=$!; sleep 0.5
      j=$(bench --keys "$KEYS" --mix $mix --pipeline $p --duration 5 --node-pid "$NODE_PID" --json)
      wait "$ppid" || true
      echo; echo "== perf, $mix pipeline $p: $(field ops_per_s <<<"$j" | cut -d. -f1) requests/s," \
        "node CPU $(field node_cpu_us_per_req <<<"$j" | cut -c1-5) us/request, $(field node_cpu_util <<<"$j" | cut -c1-4) cores"
      perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -4
      perf report -i "$data" --children --sort sym --stdio -g none 2>/dev/null | grep '%' \
        | grep -E '\] (__send|__libc_recv|epoll_wait|net_rx_action)$' | sed 's/^/  inclusive /'
      perf report -i "$data" --no-children --sort sym --stdio -g none 2>/dev/null | grep '%' \
        | grep -v '\[k\]' | head -8 | sed 's/^/  user /'
    done
  done
  data="$OUT/perf-getall.data"
  perf record -q -e cpu-clock -F 2000 -g -p "$NODE_PID" -o "$data" -- sleep 4 >/dev/null 2>&1 &
  ppid=$!; sleep 0.5
  j=$(bench --mix getall --requests 3 --node-pid "$NODE_PID" --json)
  wait "$ppid" || true
  echo; echo "== perf, GetAll x3: $(field batch_mb_per_s <<<"$j" | cut -d. -f1) MB/s of batches," \
    "$(field records_per_s <<<"$j" | cut -d. -f1) records/s; LZO alone:" \
    "$("$BIN/swarm-bench" lzo --keys "$KEYS" --value-size "$VALUE_SIZE" --json | field batch_mb_per_s | cut -d. -f1) MB/s"
  perf report -i "$data" --no-children --sort sym --stdio -g none 2>/dev/null | grep '%' | head -8
fi

if [[ " $VIEWS " == *" callgrind "* ]] && command -v valgrind >/dev/null; then
  start_node "$OUT/cg" valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$OUT/cg/callgrind.out"
  bench --keys "$CG_KEYS" --load --requests 0
  callgrind_control -i on "$NODE_PID" >/dev/null 2>&1
  dump() { # dump NAME: writes the counts since the last zero to callgrind.out.N; prints the file
    callgrind_control -d "$1" "$NODE_PID" >/dev/null 2>&1
    grep -l "^desc: Trigger: dump $1\$" "$OUT"/cg/callgrind.out.* | head -1
  }
  # Per-function self cost of a dump, as "count function" lines.
  self_costs() {
    callgrind_annotate --inclusive=no --auto=no --threshold=100 "$1" 2>/dev/null \
      | awk '/file:function/ {on = 1; next} on && /^ *[0-9,]+ \(/ {
               n = $1; gsub(",", "", n); $1 = ""; $2 = ""; sub(/^ +/, "")
               sub(/ \[.*\]$/, ""); k = split($0, parts, ":"); cost[parts[k]] += n }
             END {for (f in cost) print cost[f], f}'
  }
  echo; echo "== callgrind: user-space instructions per request (marginal: 25000 - 5000 requests; $CG_KEYS records)"
  for mix in get put; do
    for p in 1 16; do
      short=5000 long=25000
      callgrind_control -z "$NODE_PID" >/dev/null 2>&1
      bench --keys "$CG_KEYS" --mix $mix --pipeline $p --requests $short --json >/dev/null
      a=$(dump "$mix$p-short")
      callgrind_control -z "$NODE_PID" >/dev/null 2>&1
      bench --keys "$CG_KEYS" --mix $mix --pipeline $p --requests $long --json >/dev/null
      b=$(dump "$mix$p-long")
      n=$((long - short))
      echo "$mix pipeline $p:"
      LC_ALL=C join -1 2 -2 2 -a 1 -a 2 -e 0 -o 0,1.1,2.1 -t $'\t' \
        <(self_costs "$a" | awk '{c = $1; $1 = ""; sub(/^ /, ""); print c "\t" $0}' | LC_ALL=C sort -t $'\t' -k2,2) \
        <(self_costs "$b" | awk '{c = $1; $1 = ""; sub(/^ /, ""); print c "\t" $0}' | LC_ALL=C sort -t $'\t' -k2,2) \
        | awk -F '\t' -v n=$n '{d = ($3 - $2) / n; t += d; if (d >= 5) printf "%8.1f  %s\n", d, $1}
                                END {printf "%8.1f  TOTAL instructions per request\n", t}' \
        | sort -k1,1 -g -r | head -20
    done
  done
fi

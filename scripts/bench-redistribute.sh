#!/usr/bin/env bash
# Benchmark (not a test) of the dht node's Redistribute: fills a release dhtnode A (full range)
# with RECORDS records of VALUE_LEN bytes, times a GetAll of them (the rate a client reads the
# same data at), then gives half of the key space to an empty node B and times A's
# Redistribute until its answer. Prints records/s and MB/s of both and their ratio, ROUNDS
# times (a fresh pair of nodes each round).
#
#   scripts/bench-redistribute.sh                    # 2,000,000 records of 100 bytes, 3 rounds
#   RECORDS=500000 ROUNDS=1 scripts/bench-redistribute.sh
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-2000000}
VALUE_LEN=${VALUE_LEN:-100}
ROUNDS=${ROUNDS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p swarm-dht --bin dhtnode --example dump_bench
BIN=$CARGO_TARGET_DIR/release
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

start() { # $1 = name, $2 = minval, $3 = maxval; sets ADDR
  local dir=$WORK/$1
  mkdir -p "$dir/data" "$dir/log"
  cat >"$dir/config.ini" <<CFG
[Server]
address = 127.0.0.1
port = 0
minval = $2
maxval = $3
data_dir = $dir/data
[LOG.Root]
file = $dir/log/root.log
CFG
  "$BIN/dhtnode" -c "$dir/config.ini" >/dev/null 2>"$dir/stderr" &
  PIDS+=($!)
  disown # no "Killed" line when the round ends
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$dir/stderr"; then
      ADDR=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$dir/stderr" | head -1)
      return
    fi
    sleep 0.1
  done
  echo "node $1 did not start" >&2
  exit 1
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
HALF=0x7fffffffffffffff
UP=0x8000000000000000
printf "%-6s %12s %10s %10s %12s %10s %10s %8s\n" round getall_rec/s MB/s secs move_rec/s MB/s secs ratio
for round in $(seq 1 "$ROUNDS"); do
  start "a$round" 0x0000000000000000 0xffffffffffffffff; A=$ADDR
  start "b$round" 0xffffffffffffffff 0x0000000000000000; B=$ADDR
  "$BIN/examples/dump_bench" fill "$A" bench "$RECORDS" "$VALUE_LEN" >/dev/null
  G=$("$BIN/examples/dump_bench" getall "$A" bench)
  g_rec=$(echo "$G" | field records); g_bytes=$(echo "$G" | field bytes); g_s=$(echo "$G" | field secs)
  "$BIN/examples/dump_bench" redistribute "$B" $UP 0xffffffffffffffff "127.0.0.1:${A##*:}:0x0000000000000000:$HALF" >/dev/null
  R=$("$BIN/examples/dump_bench" redistribute "$A" 0x0000000000000000 $HALF "127.0.0.1:${B##*:}:$UP:0xffffffffffffffff")
  status=$(echo "$R" | field status); r_s=$(echo "$R" | field secs)
  [ "$status" = 200 ] || { echo "Redistribute answered $status" >&2; exit 1; }
  M=
  for _ in $(seq 1 100); do # root.log is flushed by a timer
    M=$(grep -o "Redistribute finished: [0-9]* records ([0-9]* bytes)" "$WORK/a$round/log/root.log" | tail -1 || true)
    [ -n "$M" ] && break
    sleep 0.1
  done
  m_rec=$(echo "$M" | sed 's/.*finished: \([0-9]*\) records.*/\1/'); m_bytes=$(echo "$M" | sed 's/.*(\([0-9]*\) bytes).*/\1/')
  awk -v r="$round" -v gr="$g_rec" -v gb="$g_bytes" -v gs="$g_s" -v mr="$m_rec" -v mb="$m_bytes" -v ms="$r_s" 'BEGIN {
    printf "%-6s %12.0f %10.1f %10.3f %12.0f %10.1f %10.3f %8.2f\n", r, gr/gs, gb/1e6/gs, gs, mr/ms, mb/1e6/ms, ms, (mr/ms)/(gr/gs) }'
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  PIDS=()
done
echo "(ratio: records/s of the move over records/s of GetAll on the same node; the move"
echo " covers half the records, each sent, acknowledged and removed)"

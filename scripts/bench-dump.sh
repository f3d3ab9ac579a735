#!/usr/bin/env bash
# Benchmark (not a test) of the dht node's dump and load: fills a release dhtnode with ~1 GB of
# 100-byte records over the legacy protocol, times the shutdown dump (SIGTERM to exit) and the
# start-up load (start to listening), measures the event loop's longest hold during a periodic
# dump (the node's own step timer, and the round trip of back-to-back Gets), and, in the same
# run on the same disk, the disk's sequential write (dd conv=fdatasync) and read (dd after
# dropping the page cache, or with iflag=direct) speed. Prints a table of MB/s and ratios, and
# deletes its files at the end.
#
#   scripts/bench-dump.sh                 # 10,000,000 records of 100 bytes
#   RECORDS=1000000 scripts/bench-dump.sh # smaller
#   WORK=/path/on/disk scripts/bench-dump.sh
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
if [[ $# -gt 0 ]]; then
  echo "$0: takes no arguments, only environment variables (see --help)" >&2
  exit 2
fi
cd "$(dirname "$0")/.."

RECORDS=${RECORDS:-10000000}
VALUE_LEN=${VALUE_LEN:-100}
PERIOD=${PERIOD:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p swarm-dht --bin dhtnode --example dump_bench
BIN=$CARGO_TARGET_DIR/release
WORK=${WORK:-$(mktemp -d "$PWD/../bench-dump.XXXXXX")}
mkdir -p "$WORK/data" "$WORK/log"
NODE_PID=
cleanup() {
  [ -n "$NODE_PID" ] && kill -9 "$NODE_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "== work dir $WORK"
df -h "$WORK" | tail -1

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
mbps() { echo "$1 / 1000000 / $2" | bc -l; }

config() { # $1 = dump_period_s
  cat >"$WORK/config.ini" <<EOF
[Server]
address = 127.0.0.1
port = 0
minval = 0x0000000000000000
maxval = 0xffffffffffffffff
data_dir = $WORK/data
[Performance]
write_flush_ms = 10
[Options_Memory]
dump_period_s = $1
[LOG.Root]
file = $WORK/log/root.log
EOF
}

start_node() { # sets NODE_PID and ADDR
  : >"$WORK/node.err"
  "$BIN/dhtnode" -c "$WORK/config.ini" 2>"$WORK/node.err" >/dev/null &
  NODE_PID=$!
  until grep -q 'listening on' "$WORK/node.err"; do
    kill -0 "$NODE_PID" 2>/dev/null || { cat "$WORK/node.err"; exit 1; }
    sleep 0.01
  done
  ADDR=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$WORK/node.err" | head -1)
}

stop_node() {
  kill -TERM "$NODE_PID"
  wait "$NODE_PID"
  NODE_PID=
}

drop_caches() { # "yes" if the page cache could be dropped
  sync
  if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then echo yes; else echo no; fi
}

echo "== fill: $RECORDS records of $VALUE_LEN bytes"
config 0
start_node
"$BIN/examples/dump_bench" fill "$ADDR" bench "$RECORDS" "$VALUE_LEN"
echo "node RSS: $(ps -o rss= -p "$NODE_PID") KiB"

echo "== shutdown dump"
t0=$(now); stop_node; t1=$(now)
DUMP_S=$(secs "$t0" "$t1")
SIZE=$(stat -c %s "$WORK/data/bench.tcm")
echo "dumped $SIZE bytes in $DUMP_S s"

echo "== start-up load (page cache dropped: $(drop_caches))"
config "$PERIOD"
t0=$(now); start_node; t1=$(now)
LOAD_S=$(secs "$t0" "$t1")
echo "loaded in $LOAD_S s"
grep -o "Finished loading channel.*" "$WORK/log/root.log" | tail -1

echo "== periodic dump while serving (first cycle ${PERIOD} s after start; Gets from 2 s before it)"
sleep $((PERIOD - 2)) # the probe covers the dump, not the warm-up after a cold start
PROBE_S=$(printf '%.0f' "$(echo "$DUMP_S * 2 + 5" | bc -l)")
"$BIN/examples/dump_bench" probe "$ADDR" bench "$PROBE_S" | tee "$WORK/probe.out"
until grep -q 'Periodic dump finished' "$WORK/log/root.log"; do sleep 0.1; done
PERIODIC=$(grep -o 'Periodic dump finished.*' "$WORK/log/root.log" | head -1)
echo "$PERIODIC"
stop_node

echo "== disk: dd of the same size"
COUNT=$(( (SIZE + 4194303) / 4194304 ))
t0=$(now)
dd if=/dev/zero of="$WORK/dd.bin" bs=4M count="$COUNT" conv=fdatasync status=none
t1=$(now)
DD_W_S=$(secs "$t0" "$t1")
if [ "$(drop_caches)" = yes ]; then
  READ_MODE="page cache dropped"
  t0=$(now); dd if="$WORK/dd.bin" of=/dev/null bs=4M status=none; t1=$(now)
else
  READ_MODE="iflag=direct"
  t0=$(now); dd if="$WORK/dd.bin" of=/dev/null bs=4M iflag=direct status=none; t1=$(now)
fi
DD_R_S=$(secs "$t0" "$t1")
DD_BYTES=$((COUNT * 4194304))

DUMP_MB=$(mbps "$SIZE" "$DUMP_S"); LOAD_MB=$(mbps "$SIZE" "$LOAD_S")
DDW_MB=$(mbps "$DD_BYTES" "$DD_W_S"); DDR_MB=$(mbps "$DD_BYTES" "$DD_R_S")
echo
echo "== results ($RECORDS records of $VALUE_LEN bytes, .tcm of $SIZE bytes)"
printf '| %-34s | %8s | %9s | %14s |\n' "what" "seconds" "MB/s" "ratio to dd"
printf '| %-34s | %8.2f | %9.1f | %14.2f |\n' "shutdown dump (SIGTERM to exit)" "$DUMP_S" "$DUMP_MB" "$(echo "$DUMP_MB / $DDW_MB" | bc -l)"
printf '| %-34s | %8.2f | %9.1f | %14s |\n' "dd write, conv=fdatasync" "$DD_W_S" "$DDW_MB" "1"
printf '| %-34s | %8.2f | %9.1f | %14.2f |\n' "start-up load (start to listening)" "$LOAD_S" "$LOAD_MB" "$(echo "$LOAD_MB / $DDR_MB" | bc -l)"
printf '| %-34s | %8.2f | %9.1f | %14s |\n' "dd read, $READ_MODE" "$DD_R_S" "$DDR_MB" "1"
echo "periodic dump: $PERIODIC"
echo "Gets during it: $(cat "$WORK/probe.out")"

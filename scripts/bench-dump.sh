#!/usr/bin/env bash
# Benchmark (not a test) of the dht node's restart against Redis's, in one run on one disk
# (issue 14). Per round, with the same records loaded through the same client (swarm-bench
# --load: RECORDS keys, VALUE_LEN-byte values of VALUES, uniform random bytes by default) into
# a release dhtnode and into redis-server:
#   - dhtdump --oneshot of the node (its GetAll-based dump), to compare with the node's own dump;
#   - the node's shutdown dump (SIGTERM to exit) against Redis `SAVE`;
#   - the node's start-up load (start to listening, and root.log's "Finished loading ... in")
#     against Redis's RDB load after a restart (its own "DB loaded from disk: N seconds" line),
#     the page cache dropped before each;
#   - a periodic dump while serving: the node's longest event-loop step (its own step timer) and
#     the round trip of back-to-back Gets during it (p99, max);
#   - `dd` of the same size: write with conv=fdatasync, read after dropping the page cache (or
#     with iflag=direct where the cache cannot be dropped).
# Prints each round, then the medians with the issue's targets as ratios; deletes its files.
#
#   scripts/bench-dump.sh                          # 10,000,000 records of 100 bytes, 3 rounds
#   RECORDS=1000000 ROUNDS=1 scripts/bench-dump.sh # a quick check
#   WORK=/path/on/disk scripts/bench-dump.sh
#
# Environment: RECORDS (10000000), VALUE_LEN (100), VALUES (random, or text: windows of a
# pseudo-random text, which LZO shrinks to about 0.93 in GetAll batches), ROUNDS (3), PERIOD (periodic dump period,
# 10 s), WORK (a temp dir beside the checkout), CARGO_TARGET_DIR. Needs redis-server and
# redis-cli (Debian: apt-get install redis-server) and bc. Run it on an otherwise quiet machine,
# as root if the page cache is to be dropped.
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
VALUES=${VALUES:-random}
ROUNDS=${ROUNDS:-3}
PERIOD=${PERIOD:-10}
for tool in redis-server redis-cli bc; do
  command -v "$tool" >/dev/null || {
    echo "$0: $tool is missing (apt-get install redis-server bc)" >&2
    exit 1
  }
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p swarm-dht --bin dhtnode --example dump_bench
cargo build --release -q -p swarm-dhtdump --bin dhtdump
cargo build --release -q -p swarm-bench --bin swarm-bench
BIN=$CARGO_TARGET_DIR/release
WORK=${WORK:-$(mktemp -d "$PWD/../bench-dump.XXXXXX")}
NODE_PID=
REDIS_PID=
cleanup() {
  [ -n "$NODE_PID" ] && kill -9 "$NODE_PID" 2>/dev/null || true
  [ -n "$REDIS_PID" ] && kill -9 "$REDIS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "== work dir $WORK, $RECORDS records of $VALUE_LEN bytes ($VALUES), $ROUNDS rounds"
mkdir -p "$WORK"
df -h "$WORK" | tail -1

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
ratio() { echo "$1 / $2" | bc -l; }

drop_caches() { # "yes" if the page cache could be dropped
  sync
  if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then echo yes; else echo no; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

config() { # $1 = dump_period_s
  cat >"$WORK/config.ini" <<EOF
[Server]
address = 127.0.0.1
port = $NODE_PORT
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

start_node() {
  : >"$WORK/node.err"
  "$BIN/dhtnode" -c "$WORK/config.ini" 2>"$WORK/node.err" >/dev/null &
  NODE_PID=$!
  until grep -q 'listening on' "$WORK/node.err"; do
    kill -0 "$NODE_PID" 2>/dev/null || { cat "$WORK/node.err"; exit 1; }
    sleep 0.005
  done
}

stop_node() { # $1 = signal
  kill "-${1:-TERM}" "$NODE_PID"
  { wait "$NODE_PID" || true; } 2>/dev/null
  NODE_PID=
}

start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --dbfilename dump.rdb \
    --save "" --appendonly no --logfile "$WORK/redis/redis.log" --daemonize no \
    --protected-mode no >/dev/null &
  REDIS_PID=$!
  until redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; do
    kill -0 "$REDIS_PID" 2>/dev/null || { tail "$WORK/redis/redis.log"; exit 1; }
    sleep 0.005
  done
}

stop_redis() {
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  wait "$REDIS_PID" || true
  REDIS_PID=
}

load_records() { # $1 = target, $2 = address
  "$BIN/swarm-bench" --target "$1" --addr "$2" --load --requests 0 --keys "$RECORDS" \
    --value-size "$VALUE_LEN" --values "$VALUES" --connections 8 --pipeline 64 --channel bench >"$WORK/load.out" 2>&1
  grep 'loaded' "$WORK/load.out" | tail -1
}

ROWS=()
for round in $(seq 1 "$ROUNDS"); do
  echo
  echo "== round $round"
  rm -rf "$WORK/data" "$WORK/log" "$WORK/redis" "$WORK/dhtdump" "$WORK/dd.bin"
  mkdir -p "$WORK/data" "$WORK/log" "$WORK/redis" "$WORK/dhtdump/log"
  NODE_PORT=$(free_port)
  REDIS_PORT=$(free_port)

  # The dht node: load through the client, dhtdump, shutdown dump, start-up load, periodic dump.
  config 0
  start_node
  load_records dht "127.0.0.1:$NODE_PORT"
  echo "node RSS after the load: $(ps -o rss= -p "$NODE_PID") KiB"
  cat >"$WORK/dhtdump/config.ini" <<EOF
[Dht]
address = 127.0.0.1
port = $NODE_PORT
[Dump]
data_dir = $WORK/dhtdump
[LOG.Root]
file = $WORK/dhtdump/log/root.log
EOF
  t0=$(now)
  "$BIN/dhtdump" -c "$WORK/dhtdump/config.ini" --oneshot >/dev/null 2>&1
  t1=$(now)
  DHTDUMP_S=$(secs "$t0" "$t1")
  rm -rf "$WORK/dhtdump"
  t0=$(now); stop_node TERM; t1=$(now)
  DUMP_S=$(secs "$t0" "$t1")
  SIZE=$(stat -c %s "$WORK/data/bench.tcm")
  echo "dhtdump $DHTDUMP_S s; shutdown dump $DUMP_S s, $SIZE bytes"
  DROPPED=$(drop_caches)
  config "$PERIOD"
  t0=$(now); start_node; t1=$(now)
  LOAD_S=$(secs "$t0" "$t1")
  LOADED=$(grep -o "Finished loading channel.*" "$WORK/log/root.log" | tail -1)
  echo "start-up load $LOAD_S s (page cache dropped: $DROPPED): $LOADED"
  # The probe covers the periodic dump, not the warm-up after a cold start.
  sleep "$(echo "$PERIOD - 2" | bc -l)"
  PROBE_S=$(printf '%.0f' "$(echo "$DUMP_S * 2 + 5" | bc -l)")
  "$BIN/examples/dump_bench" probe "127.0.0.1:$NODE_PORT" bench "$PROBE_S" >"$WORK/probe.out"
  until grep -q 'Periodic dump finished' "$WORK/log/root.log"; do sleep 0.1; done
  PERIODIC=$(grep -o 'Periodic dump finished.*' "$WORK/log/root.log" | head -1)
  STEP_US=$(echo "$PERIODIC" | sed -n 's/.*longest event-loop step \([0-9]*\) us.*/\1/p')
  GET_P99=$(sed -n 's/.* p99 \([0-9]*\) us.*/\1/p' "$WORK/probe.out")
  GET_MAX=$(sed -n 's/.* max \([0-9]*\) us.*/\1/p' "$WORK/probe.out")
  echo "$PERIODIC"
  echo "Gets during it: $(cat "$WORK/probe.out")"
  stop_node KILL
  rm -rf "$WORK/data"

  # Redis: the same records through the same client, SAVE, restart and RDB load.
  start_redis
  load_records redis "127.0.0.1:$REDIS_PORT"
  echo "redis RSS after the load: $(ps -o rss= -p "$REDIS_PID") KiB, keys $(redis-cli -p "$REDIS_PORT" dbsize)"
  t0=$(now); redis-cli -p "$REDIS_PORT" save >/dev/null; t1=$(now)
  SAVE_S=$(secs "$t0" "$t1")
  RDB=$(stat -c %s "$WORK/redis/dump.rdb")
  stop_redis
  DROPPED_R=$(drop_caches)
  t0=$(now); start_redis; t1=$(now)
  RSTART_S=$(secs "$t0" "$t1")
  RLOAD_S=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$WORK/redis/redis.log" | tail -1)
  echo "redis SAVE $SAVE_S s ($RDB bytes); RDB load $RLOAD_S s by its log, start to ready $RSTART_S s (page cache dropped: $DROPPED_R)"
  stop_redis
  rm -rf "$WORK/redis"

  # The disk: dd of the .tcm's size.
  COUNT=$(((SIZE + 4194303) / 4194304))
  DD_BYTES=$((COUNT * 4194304))
  t0=$(now)
  dd if=/dev/zero of="$WORK/dd.bin" bs=4M count="$COUNT" conv=fdatasync status=none
  t1=$(now)
  DDW_S=$(secs "$t0" "$t1")
  if [ "$(drop_caches)" = yes ]; then
    READ_MODE="page cache dropped"
    t0=$(now); dd if="$WORK/dd.bin" of=/dev/null bs=4M status=none; t1=$(now)
  else
    READ_MODE="iflag=direct"
    t0=$(now); dd if="$WORK/dd.bin" of=/dev/null bs=4M iflag=direct status=none; t1=$(now)
  fi
  DDR_S=$(secs "$t0" "$t1")
  rm -f "$WORK/dd.bin"
  echo "dd write $DDW_S s, read ($READ_MODE) $DDR_S s, $DD_BYTES bytes"

  # Per-round ratios, as the targets state them.
  LOAD_VS_REDIS=$(ratio "$RLOAD_S" "$LOAD_S")                        # records/s, same records
  LOAD_VS_DD=$(ratio "$(ratio "$SIZE" "$LOAD_S")" "$(ratio "$DD_BYTES" "$DDR_S")")
  DUMP_VS_DD=$(ratio "$(ratio "$SIZE" "$DUMP_S")" "$(ratio "$DD_BYTES" "$DDW_S")")
  DUMP_VS_SAVE=$(ratio "$SAVE_S" "$DUMP_S")
  DHTDUMP_VS_DUMP=$(ratio "$DUMP_S" "$DHTDUMP_S")
  ROWS+=("$LOAD_S $RLOAD_S $LOAD_VS_REDIS $LOAD_VS_DD $DUMP_S $SAVE_S $DUMP_VS_DD $DUMP_VS_SAVE $DHTDUMP_S $DHTDUMP_VS_DUMP ${STEP_US:-0} ${GET_P99:-0} ${GET_MAX:-0} $DDW_S $DDR_S")
done

median() { # $1 = column (1-based) of ROWS
  printf '%s\n' "${ROWS[@]}" | awk -v c="$1" '{print $c}' | sort -g |
    awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}
verdict() { # $1 value, $2 op, $3 bound
  if [ "$(echo "$1 $2 $3" | bc -l)" = 1 ]; then echo yes; else echo NO; fi
}

echo
echo "== rounds ($RECORDS records of $VALUE_LEN bytes of $VALUES, .tcm of $SIZE bytes, RDB of $RDB bytes)"
printf '| %5s | %8s | %8s | %8s | %8s | %8s | %9s | %8s | %8s | %8s |\n' round "load s" "RDB s" \
  "dump s" "SAVE s" "dhtdump" "step us" "Get p99" "dd w s" "dd r s"
i=0
for row in "${ROWS[@]}"; do
  i=$((i + 1))
  read -r l r _ _ d s _ _ h _ st p99 _ ddw ddr <<<"$row"
  printf '| %5s | %8.2f | %8.2f | %8.2f | %8.2f | %8.2f | %9s | %8s | %8.2f | %8.2f |\n' "$i" \
    "$l" "$r" "$d" "$s" "$h" "$st" "$p99" "$ddw" "$ddr"
done
echo
echo "== medians of $ROUNDS rounds, against the issue's targets"
printf '| %-52s | %8s | %-10s |\n' "figure" "value" "target"
m() { median "$1"; }
printf '| %-52s | %8.2f | %-10s |\n' "start-up load, records/s vs Redis RDB load" "$(m 3)" ">= 5 $(verdict "$(m 3)" '>=' 5)"
printf '| %-52s | %8.2f | %-10s |\n' "start-up load MB/s vs dd read ($READ_MODE)" "$(m 4)" ">= 0.25 $(verdict "$(m 4)" '>=' 0.25)"
printf '| %-52s | %8.2f | %-10s |\n' "shutdown dump MB/s vs dd write conv=fdatasync" "$(m 7)" ">= 0.8 $(verdict "$(m 7)" '>=' 0.8)"
printf '| %-52s | %8.2f | %-10s |\n' "shutdown dump, records/s vs Redis SAVE" "$(m 8)" ">= 3 $(verdict "$(m 8)" '>=' 3)"
printf '| %-52s | %8.2f | %-10s |\n' "dhtdump rate vs the node's own dump" "$(m 10)" ">= 0.5 $(verdict "$(m 10)" '>=' 0.5)"
printf '| %-52s | %8.0f | %-10s |\n' "longest loop step in a periodic dump, us" "$(m 11)" "< 2000 $(verdict "$(m 11)" '<' 2000)"
printf '| %-52s | %8.0f | %-10s |\n' "Get p99 during a periodic dump, us" "$(m 12)" "< 1000 $(verdict "$(m 12)" '<' 1000)"
printf '| %-52s | %8.2f | %-10s |\n' "start-up load, s" "$(m 1)" ""
printf '| %-52s | %8.2f | %-10s |\n' "Redis RDB load (its log), s" "$(m 2)" ""
printf '| %-52s | %8.2f | %-10s |\n' "shutdown dump, s" "$(m 5)" ""
printf '| %-52s | %8.2f | %-10s |\n' "Redis SAVE, s" "$(m 6)" ""
printf '| %-52s | %8.2f | %-10s |\n' "dhtdump --oneshot, s" "$(m 9)" ""
printf '| %-52s | %8.0f | %-10s |\n' "Get max during a periodic dump, us" "$(m 13)" ""

#!/usr/bin/env bash
# The queue node against Redis lists and the swarm-echo floor, on this machine, in one run
# (issue 9).
#
#   scripts/bench-queue-vs-redis.sh            # full run: 3 rounds (~5 minutes)
#   scripts/bench-queue-vs-redis.sh --quick    # smoke run: small counts, 1 round
#
# Installs redis-server and redis-tools with apt-get when missing, builds the release binaries,
# starts queuenode (channel_size_limit 2 GB), redis-server (no persistence) and two swarm-echo
# servers (Push-shaped and Pop-shaped messages) on free 127.0.0.1 ports in a temp dir, pushes
# the same prefill into the node's channel and Redis's list, then per round runs swarm-bench
# Push and Pop (queue Push/Pop, Redis LPUSH/RPOP, all connections on one channel) at pipeline 1
# and 16 and the Produce-to-Consume stream against Redis's LPUSH-to-`RPOP key 100` loop, the
# node and Redis in alternating order, and prints one table of medians with the ratios and the
# issue's targets. Each Push run is followed by a Pop run of as many requests, so the queues
# never fall below the prefill and no Pop is measured on an empty queue (the table counts
# empty pops all the same). Stops only the processes it started; raw output goes to the log.
#
# Environment overrides: PREFILL VALUE_SIZE CONNECTIONS REQUESTS REQUESTS_P16 STREAM_RECORDS
# ROUNDS QUIET_MAX (see bench-vs-redis.sh) WRITE_FLUSH_MS LOG CARGO_TARGET_DIR, CHANNEL_SIZE (the
# node's channel_size_limit, 2000000000: room for the prefill and a pipeline-16 Push run, so the
# ring does not wrap during the run and every Push writes memory the node has not touched yet,
# the first pass through a ring; a ring small enough to wrap, e.g. 400000000 for the defaults,
# measures the node once its pages are in place).
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
if [[ -n "${1:-}" && "$1" != "--quick" ]]; then
  echo "$0: unknown argument $1 (the only one is --quick; see --help)" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

if [[ "${1:-}" == "--quick" ]]; then
  : "${PREFILL:=20000}" "${REQUESTS:=20000}" "${REQUESTS_P16:=100000}" "${STREAM_RECORDS:=200000}"
  : "${ROUNDS:=1}"
fi
PREFILL=${PREFILL:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
CONNECTIONS=${CONNECTIONS:-50}
REQUESTS=${REQUESTS:-400000}
REQUESTS_P16=${REQUESTS_P16:-2000000}
STREAM_RECORDS=${STREAM_RECORDS:-2000000}
ROUNDS=${ROUNDS:-3}
QUIET_MAX=${QUIET_MAX:-120}
WRITE_FLUSH_MS=${WRITE_FLUSH_MS:-250}
CHANNEL_SIZE=${CHANNEL_SIZE:-2000000000}
CHANNEL=bench
STREAM_CHANNEL=bench_stream
LOG=${LOG:-/tmp/bench-queue-vs-redis-$(date +%Y%m%d-%H%M%S).log}
: >"$LOG"
say "bench-queue-vs-redis: raw output in $LOG"

# --- tools ---------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null \
  || ! command -v redis-benchmark >/dev/null; then
  say "installing redis-server and redis-tools"
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update >>"$LOG" 2>&1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q redis-server redis-tools >>"$LOG" 2>&1
fi
# `RPOP key count` needs Redis 6.2; before it, the consumer sends 100 plain RPOPs per write.
REDIS_VERSION=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
POP_FORM=(--redis-count 100)
if [[ "$(printf '%s\n' 6.2 "$REDIS_VERSION" | sort -V | head -1)" != 6.2 ]]; then
  say "Redis $REDIS_VERSION has no RPOP count (6.2): the stream consumer pipelines 100 plain RPOPs"
  POP_FORM+=(--redis-plain-rpop)
fi
say "building release binaries"
cargo build --release -p swarm-queue -p swarm-bench --bin queuenode --bin swarm-bench \
  --bin swarm-echo >>"$LOG" 2>&1
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
BENCH=$BIN/swarm-bench

# --- servers -------------------------------------------------------------------------------
TMP=$(mktemp -d /tmp/bench-queue-vs-redis.XXXXXX)
trap cleanup EXIT

QPORT=$(free_port)
mkdir -p "$TMP/queue"
cat >"$TMP/queue/config.ini" <<EOF
[Server]
address = 127.0.0.1
port = $QPORT
data_dir = data
channel_size_limit = $CHANNEL_SIZE
size_limit = 0
connection_limit = 5000

[Performance]
write_flush_ms = $WRITE_FLUSH_MS

[LOG.Root]
file = log/root.log
EOF
(cd "$TMP/queue" && exec "$BIN/queuenode" -c config.ini) >>"$LOG" 2>&1 &
QPID=$!; PIDS+=("$QPID")

RPORT=$(free_port)
mkdir -p "$TMP/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/redis" \
  --daemonize no --logfile "$TMP/redis/redis.log" >>"$LOG" 2>&1 &
RPID=$!; PIDS+=("$RPID")

# Echo servers move the bytes of a queue Push (request; Ok) and of a Pop (request; Ok + value).
PUSH_REQ=$((4 + 8 + ${#CHANNEL} + 8 + VALUE_SIZE)); PUSH_REP=4
POP_REQ=$((4 + 8 + ${#CHANNEL})); POP_REP=$((4 + 8 + VALUE_SIZE))
EPUPORT=$(free_port)
"$BIN/swarm-echo" --addr "127.0.0.1:$EPUPORT" --request-size $PUSH_REQ --reply-size $PUSH_REP >>"$LOG" 2>&1 &
EPUPID=$!; PIDS+=("$EPUPID")
EPOPORT=$(free_port)
"$BIN/swarm-echo" --addr "127.0.0.1:$EPOPORT" --request-size $POP_REQ --reply-size $POP_REP >>"$LOG" 2>&1 &
EPOPID=$!; PIDS+=("$EPOPID")
wait_port "$QPORT" "$QPID" queuenode "$TMP/queue/log/root.log"
wait_port "$RPORT" "$RPID" redis-server "$TMP/redis/redis.log"
wait_port "$EPUPORT" "$EPUPID" swarm-echo
wait_port "$EPOPORT" "$EPOPID" swarm-echo
say "queuenode pid $QPID port $QPORT; redis-server $REDIS_VERSION pid $RPID port $RPORT; swarm-echo pids $EPUPID $EPOPID ports $EPUPORT $EPOPORT"
say "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r); load at start: $(uptime | sed 's/.*load average: //')"

COMMON=(--connections "$CONNECTIONS" --value-size "$VALUE_SIZE" --channel "$CHANNEL")
used_memory() { redis-cli -p "$RPORT" info memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
addr_of() { case $1 in queue) echo "$QPORT" ;; redis) echo "$RPORT" ;; esac; }
pid_of() { case $1 in queue) echo "$QPID" ;; redis) echo "$RPID" ;; esac; }

# --- prefill and memory --------------------------------------------------------------------
QRSS0=$(rss "$QPID"); RMEM0=$(used_memory); RRSS0=$(rss "$RPID")
for t in queue redis; do
  bench --target $t --addr "127.0.0.1:$(addr_of $t)" "${COMMON[@]}" --mix push --keys "$PREFILL" \
    --load --requests 0 >/dev/null
done
QRSS1=$(rss "$QPID"); RMEM1=$(used_memory); RRSS1=$(rss "$RPID")
per_record() { awk -v a="$1" -v b="$2" -v n="$PREFILL" 'BEGIN {printf "%.1f", (b - a) / n}'; }
say "memory: queuenode VmRSS $QRSS0 -> $QRSS1 B; redis used_memory $RMEM0 -> $RMEM1 B, VmRSS $RRSS0 -> $RRSS1 B"
say "queue lengths after the prefill: redis LLEN $(redis-cli -p "$RPORT" llen "$CHANNEL")"

# --- runs ----------------------------------------------------------------------------------
declare -A R  # R[figure/op/pipeline/target] = "v1 v2 v3"
for round in $(seq "$ROUNDS"); do
  say "== round $round of $ROUNDS"
  order="queue redis"; ((round % 2 == 0)) && order="redis queue"
  for p in 1 16; do
    n=$REQUESTS; [[ $p -eq 16 ]] && n=$REQUESTS_P16
    for op in push pop; do
      for t in $order echo; do
        case $t/$op in
          echo/push) addr=$EPUPORT pid=$EPUPID ;;
          echo/pop) addr=$EPOPORT pid=$EPOPID ;;
          *) addr=$(addr_of $t) pid=$(pid_of $t) ;;
        esac
        j=$(bench --target $t --addr "127.0.0.1:$addr" "${COMMON[@]}" --mix $op --pipeline $p \
          --requests "$n" --node-pid "$pid")
        for f in ops_per_s node_cpu_us_per_req lat_p99_us client_cpu_util other_cpu_cores misses \
          errors conn_failures; do
          add "$f/$op/$p/$t" "$(jget $f "$j")"
        done
      done
    done
  done
  for t in $order; do
    extra=(); [[ $t == redis ]] && extra=(--redis-pipeline 16 "${POP_FORM[@]}")
    j=$(bench stream --target $t --addr "127.0.0.1:$(addr_of $t)" --channel "$STREAM_CHANNEL" \
      --value-size "$VALUE_SIZE" --records "$STREAM_RECORDS" --node-pid "$(pid_of $t)" "${extra[@]}")
    for f in records_per_s node_cpu_us_per_record node_cpu_util lat_p50_us lat_p99_us \
      producer_records_per_s empty_polls out_of_order client_cpu_util other_cpu_cores; do
      add "stream_$f/$t" "$(jget $f "$j")"
    done
  done
done
say "queue lengths at the end: redis LLEN $(redis-cli -p "$RPORT" llen "$CHANNEL") (prefill $PREFILL)"

# redis-benchmark's own figures, for reference (its list is "mylist"; LPUSH runs before RPOP).
rb() { quiet; redis-benchmark -h 127.0.0.1 -p "$RPORT" -t lpush,rpop -c "$CONNECTIONS" -d "$VALUE_SIZE" \
  -q "$@" 2>>"$LOG" | tr '\r' '\n' | grep 'requests per second' | tee -a "$LOG"; }
say "\$ redis-benchmark -t lpush,rpop -n $REQUESTS -c $CONNECTIONS -d $VALUE_SIZE -q"
RB1=$(rb -n "$REQUESTS")
say "\$ redis-benchmark ... -n $REQUESTS_P16 -P 16"
RB16=$(rb -n "$REQUESTS_P16" -P 16)
rbget() { sed -n "s/^$1: \([0-9.]*\) requests per second.*/\1/p" <<<"$2" | tail -1; }

# --- table ---------------------------------------------------------------------------------
{
  echo
  echo "queue node vs Redis vs swarm-echo: one channel/list for all $CONNECTIONS connections, $VALUE_SIZE-byte values,"
  echo "prefill $PREFILL records, medians of $ROUNDS round(s); q/Redis and q/echo are medians of the per-round"
  echo "queue/Redis and queue/echo ratios"
  echo "(requests per run: $REQUESTS at pipeline 1, $REQUESTS_P16 at pipeline 16; stream: $STREAM_RECORDS records;"
  echo "node channel_size_limit $CHANNEL_SIZE; Redis $REDIS_VERSION; load at end: $(uptime | sed 's/.*load average: //'))"
  echo
  line figure queue Redis echo/floor q/Redis target q/echo target
  echo "|--------------------------------------|-----------:|-----------:|-----------:|----------:|-------------|----------:|-------------|"
  for p in 1 16; do
    for op in push pop; do
      tr=1.3; [[ $p -eq 16 ]] && tr=1.5
      row "$op ops/s, pipeline $p" ops_per_s/$op/$p/queue ops_per_s/$op/$p/redis \
        ops_per_s/$op/$p/echo ">=" "$tr" ""
    done
  done
  for p in 1 16; do
    for op in push pop; do
      tr=; [[ $p -eq 1 ]] && tr=0.8
      row "$op server CPU us/request, pipe $p" node_cpu_us_per_req/$op/$p/queue \
        node_cpu_us_per_req/$op/$p/redis node_cpu_us_per_req/$op/$p/echo "<=" "$tr" ""
    done
  done
  for p in 1 16; do
    for op in push pop; do
      row "$op p99 latency us, pipeline $p" lat_p99_us/$op/$p/queue lat_p99_us/$op/$p/redis \
        lat_p99_us/$op/$p/echo "<=" "" ""
    done
  done
  most() { printf '%s\n' ${R[$1]:-} | sort -g | tail -1; }
  for p in 1 16; do
    line "empty pops, most in a round, pipe $p" "$(most misses/pop/$p/queue)" \
      "$(most misses/pop/$p/redis)" - "" "" "" ""
  done
  for p in 1 16; do
    for op in push pop; do
      info "$op client CPU (cores), pipeline $p" "$(m client_cpu_util/$op/$p/queue)" \
        "$(m client_cpu_util/$op/$p/redis)" "$(m client_cpu_util/$op/$p/echo)"
    done
  done
  for p in 1 16; do
    for op in push pop; do
      info "$op others' CPU (cores), pipe $p" "$(m other_cpu_cores/$op/$p/queue)" \
        "$(m other_cpu_cores/$op/$p/redis)" "$(m other_cpu_cores/$op/$p/echo)"
    done
  done
  row "stream records/s received" stream_records_per_s/queue stream_records_per_s/redis - ">=" 2 ""
  row "stream server CPU us/record" stream_node_cpu_us_per_record/queue \
    stream_node_cpu_us_per_record/redis - "<=" "" ""
  info "stream server CPU (cores)" "$(m stream_node_cpu_util/queue)" "$(m stream_node_cpu_util/redis)" "-"
  info "stream producer records/s sent" "$(m stream_producer_records_per_s/queue)" \
    "$(m stream_producer_records_per_s/redis)" "-"
  info "stream end-to-end p50 latency us" "$(m stream_lat_p50_us/queue)" "$(m stream_lat_p50_us/redis)" "-"
  info "stream end-to-end p99 latency us" "$(m stream_lat_p99_us/queue)" "$(m stream_lat_p99_us/redis)" "-"
  info "stream empty polls (RPOP nil)" "-" "$(m stream_empty_polls/redis)" "-"
  info "stream client CPU (cores)" "$(m stream_client_cpu_util/queue)" "$(m stream_client_cpu_util/redis)" "-"
  info "stream others' CPU (cores)" "$(m stream_other_cpu_cores/queue)" "$(m stream_other_cpu_cores/redis)" "-"
  R[mem/queue]=$(per_record "$QRSS0" "$QRSS1") R[mem/redis]=$(per_record "$RMEM0" "$RMEM1")
  R[mem/redis_rss]=$(per_record "$RRSS0" "$RRSS1")
  row "memory B/record (RSS / used_memory)" mem/queue mem/redis - "<=" "" ""
  row "memory B/record (RSS / RSS)" mem/queue mem/redis_rss - "<=" "" ""
  info "redis-benchmark LPUSH/s, pipeline 1" "-" "$(rbget LPUSH "$RB1")" "-"
  info "redis-benchmark RPOP/s, pipeline 1" "-" "$(rbget RPOP "$RB1")" "-"
  info "redis-benchmark LPUSH/s, pipeline 16" "-" "$(rbget LPUSH "$RB16")" "-"
  info "redis-benchmark RPOP/s, pipeline 16" "-" "$(rbget RPOP "$RB16")" "-"
  errs=0; disorder=0
  for k in "${!R[@]}"; do
    case $k in
      errors/* | conn_failures/*) for v in ${R[$k]}; do [[ $v =~ ^[0-9]+$ ]] && errs=$((errs + v)); done ;;
      stream_out_of_order/*) for v in ${R[$k]}; do [[ $v =~ ^[0-9]+$ ]] && disorder=$((disorder + v)); done ;;
    esac
  done
  echo
  failed=0; [[ -f "$TMP/failed" ]] && failed=$(wc -l <"$TMP/failed")
  alive=; for pid in "$QPID" "$RPID" "$EPUPID" "$EPOPID"; do kill -0 "$pid" 2>/dev/null || alive="$alive $pid"; done
  echo "error replies and failed connections over all runs: $errs; stream records out of order: $disorder; failed swarm-bench runs: $failed${alive:+; servers that died during the run:$alive}"
  echo "raw output: $LOG"
} | tee -a "$LOG"

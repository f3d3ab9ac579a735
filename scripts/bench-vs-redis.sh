#!/usr/bin/env bash
# The dht node against Redis and the swarm-echo floor, on this machine, in one run (issue 4).
#
#   scripts/bench-vs-redis.sh            # full run: 1,000,000 keys, 3 rounds (~5 minutes)
#   scripts/bench-vs-redis.sh --quick    # smoke run: 20,000 keys, 1 round
#
# Installs redis-server and redis-tools with apt-get when missing, builds the release binaries,
# starts dhtnode, redis-server (no persistence) and two swarm-echo servers (Get-shaped and
# Put-shaped messages) on free 127.0.0.1 ports in a temp dir, loads the same key space into
# both stores, then alternates swarm-bench over dht / Redis / echo with identical options,
# ROUNDS times, and prints one table of medians with the ratios and the issue's targets.
# Stops only the processes it started. The full raw output goes to the log file it names.
#
# Environment overrides: KEYS VALUE_SIZE CONNECTIONS REQUESTS REQUESTS_P16 ROUNDS LOG
# CARGO_TARGET_DIR, QUIET_MAX (seconds to wait before each run for the machine to be idle, i.e.
# under 0.2 busy cores over one second: other processes on a 2-core box skew every figure; 0
# disables the wait). The table shows how much CPU other processes took during the runs.
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
  : "${KEYS:=20000}" "${REQUESTS:=20000}" "${REQUESTS_P16:=100000}" "${ROUNDS:=1}"
fi
KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
CONNECTIONS=${CONNECTIONS:-50}
REQUESTS=${REQUESTS:-400000}
REQUESTS_P16=${REQUESTS_P16:-2000000}
ROUNDS=${ROUNDS:-3}
QUIET_MAX=${QUIET_MAX:-120}
CHANNEL=bench
LOG=${LOG:-/tmp/bench-vs-redis-$(date +%Y%m%d-%H%M%S).log}
: >"$LOG"
say "bench-vs-redis: raw output in $LOG"

# --- tools ---------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null \
  || ! command -v redis-benchmark >/dev/null; then
  say "installing redis-server and redis-tools"
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update >>"$LOG" 2>&1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q redis-server redis-tools >>"$LOG" 2>&1
fi
say "building release binaries"
cargo build --release -p swarm-dht -p swarm-bench --bin dhtnode --bin swarm-bench --bin swarm-echo >>"$LOG" 2>&1
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
BENCH=$BIN/swarm-bench

# --- servers -------------------------------------------------------------------------------
TMP=$(mktemp -d /tmp/bench-vs-redis.XXXXXX)
trap cleanup EXIT

DPORT=$(free_port)
mkdir -p "$TMP/dht"
sed -e "s/^port = .*/port = $DPORT/" -e "s/^dump_period_s = .*/dump_period_s = 0/" \
  nodes/dht/src/default_config.ini >"$TMP/dht/config.ini"
(cd "$TMP/dht" && exec "$BIN/dhtnode" -c config.ini) >>"$LOG" 2>&1 &
DPID=$!; PIDS+=("$DPID")

RPORT=$(free_port)
mkdir -p "$TMP/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/redis" \
  --daemonize no --logfile "$TMP/redis/redis.log" >>"$LOG" 2>&1 &
RPID=$!; PIDS+=("$RPID")

# Echo servers move the bytes of a dht Get (request; Ok + value) and of a dht Put.
GET_REQ=$((4 + 8 + ${#CHANNEL} + 8 + 16)); GET_REP=$((4 + 8 + VALUE_SIZE))
PUT_REQ=$((GET_REQ + 8 + VALUE_SIZE)); PUT_REP=4
EGPORT=$(free_port)
"$BIN/swarm-echo" --addr "127.0.0.1:$EGPORT" --request-size $GET_REQ --reply-size $GET_REP >>"$LOG" 2>&1 &
EGPID=$!; PIDS+=("$EGPID")
EPPORT=$(free_port)
"$BIN/swarm-echo" --addr "127.0.0.1:$EPPORT" --request-size $PUT_REQ --reply-size $PUT_REP >>"$LOG" 2>&1 &
EPPID=$!; PIDS+=("$EPPID")
wait_port "$DPORT" "$DPID" dhtnode
wait_port "$RPORT" "$RPID" redis-server "$TMP/redis/redis.log"
wait_port "$EGPORT" "$EGPID" swarm-echo
wait_port "$EPPORT" "$EPPID" swarm-echo
say "dhtnode pid $DPID port $DPORT; redis-server pid $RPID port $RPORT; swarm-echo pids $EGPID $EPPID ports $EGPORT $EPPORT"
say "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r); load at start: $(uptime | sed 's/.*load average: //')"

COMMON=(--connections "$CONNECTIONS" --value-size "$VALUE_SIZE" --keys "$KEYS" --channel "$CHANNEL")
used_memory() { redis-cli -p "$RPORT" info memory | tr -d '\r' | sed -n 's/^used_memory://p'; }

# --- load and memory -----------------------------------------------------------------------
DRSS0=$(rss "$DPID"); RMEM0=$(used_memory); RRSS0=$(rss "$RPID")
bench --target dht --addr "127.0.0.1:$DPORT" "${COMMON[@]}" --load --requests 0 >/dev/null
bench --target redis --addr "127.0.0.1:$RPORT" "${COMMON[@]}" --load --requests 0 >/dev/null
DRSS1=$(rss "$DPID"); RMEM1=$(used_memory); RRSS1=$(rss "$RPID")
MEM_DHT=$(awk -v a="$DRSS0" -v b="$DRSS1" -v n="$KEYS" 'BEGIN {printf "%.1f", (b - a) / n}')
MEM_REDIS=$(awk -v a="$RMEM0" -v b="$RMEM1" -v n="$KEYS" 'BEGIN {printf "%.1f", (b - a) / n}')
MEM_REDIS_RSS=$(awk -v a="$RRSS0" -v b="$RRSS1" -v n="$KEYS" 'BEGIN {printf "%.1f", (b - a) / n}')
say "memory: dhtnode VmRSS $DRSS0 -> $DRSS1 B; redis used_memory $RMEM0 -> $RMEM1 B, VmRSS $RRSS0 -> $RRSS1 B"

# --- runs ----------------------------------------------------------------------------------
declare -A R  # R[figure/op/pipeline/target] = "v1 v2 v3"
for round in $(seq "$ROUNDS"); do
  say "== round $round of $ROUNDS"
  # Three passes over the channel (about a second): a single pass is short enough for one
  # scheduling hiccup to move the figure by a third.
  j=$(bench --target dht --addr "127.0.0.1:$DPORT" --mix getall --requests 3 --channel "$CHANNEL" --node-pid "$DPID")
  add getall_mb "$(jget batch_mb_per_s "$j")"; add getall_rec "$(jget records_per_s "$j")"
  quiet
  j=$("$BENCH" lzo --keys "$KEYS" --value-size "$VALUE_SIZE" --passes 3 --json 2>>"$LOG"); echo "$j" >>"$LOG"
  add lzo_mb "$(jget batch_mb_per_s "$j")"; add lzo_rec "$(jget records_per_s "$j")"
  for op in get put; do
    for p in 1 16; do
      n=$REQUESTS; [[ $p -eq 16 ]] && n=$REQUESTS_P16
      for t in dht redis echo; do
        case $t/$op in
          dht/*) addr=$DPORT pid=$DPID ;;
          redis/*) addr=$RPORT pid=$RPID ;;
          echo/get) addr=$EGPORT pid=$EGPID ;;
          echo/put) addr=$EPPORT pid=$EPPID ;;
        esac
        j=$(bench --target $t --addr "127.0.0.1:$addr" "${COMMON[@]}" --mix $op --pipeline $p \
          --requests "$n" --node-pid "$pid")
        for f in ops_per_s node_cpu_us_per_req lat_p99_us client_cpu_util other_cpu_cores errors \
          conn_failures; do
          add "$f/$op/$p/$t" "$(jget $f "$j")"
        done
      done
    done
  done
done

# redis-benchmark's own figures, for reference (its keys are "key:NNN", so this comes last).
rb() { quiet; redis-benchmark -h 127.0.0.1 -p "$RPORT" -t get,set -c "$CONNECTIONS" -d "$VALUE_SIZE" \
  -r "$KEYS" -q "$@" 2>>"$LOG" | tr '\r' '\n' | grep 'requests per second' | tee -a "$LOG"; }
say "\$ redis-benchmark -t get,set -n $REQUESTS -c $CONNECTIONS -d $VALUE_SIZE -r $KEYS -q"
RB1=$(rb -n "$REQUESTS")
say "\$ redis-benchmark ... -n $REQUESTS_P16 -P 16"
RB16=$(rb -n "$REQUESTS_P16" -P 16)
rbget() { sed -n "s/^$1: \([0-9.]*\) requests per second.*/\1/p" <<<"$2" | tail -1; }

# --- table ---------------------------------------------------------------------------------
{
  echo
  echo "dht node vs Redis vs swarm-echo: $KEYS keys, $VALUE_SIZE-byte values, $CONNECTIONS connections, medians of $ROUNDS round(s);"
  echo "ratios are medians of the per-round ratios (the three servers run back to back in each round)"
  echo "(requests per run: $REQUESTS at pipeline 1, $REQUESTS_P16 at pipeline 16; load at end: $(uptime | sed 's/.*load average: //'))"
  echo
  line figure dht Redis echo/floor dht/Redis target dht/echo target
  echo "|--------------------------------------|-----------:|-----------:|-----------:|----------:|-------------|----------:|-------------|"
  for p in 1 16; do
    for op in get put; do
      tr=; te=; [[ $p -eq 1 ]] && { tr=1.3; te=0.9; }; [[ $p -eq 16 ]] && tr=1.0
      row "$op ops/s, pipeline $p" ops_per_s/$op/$p/dht ops_per_s/$op/$p/redis ops_per_s/$op/$p/echo \
        ">=" "$tr" "$te"
    done
  done
  for p in 1 16; do
    for op in get put; do
      tr=; te=; [[ $p -eq 1 ]] && { tr=0.8; te=1.15; }
      row "$op server CPU us/request, pipe $p" node_cpu_us_per_req/$op/$p/dht \
        node_cpu_us_per_req/$op/$p/redis node_cpu_us_per_req/$op/$p/echo "<=" "$tr" "$te"
    done
  done
  for p in 1 16; do
    for op in get put; do
      row "$op p99 latency us, pipeline $p" lat_p99_us/$op/$p/dht lat_p99_us/$op/$p/redis \
        lat_p99_us/$op/$p/echo "<=" "" ""
    done
  done
  for p in 1 16; do
    for op in get put; do
      info "$op client CPU (cores), pipeline $p" "$(m client_cpu_util/$op/$p/dht)" \
        "$(m client_cpu_util/$op/$p/redis)" "$(m client_cpu_util/$op/$p/echo)"
    done
  done
  for p in 1 16; do
    for op in get put; do
      info "$op others' CPU (cores), pipeline $p" "$(m other_cpu_cores/$op/$p/dht)" \
        "$(m other_cpu_cores/$op/$p/redis)" "$(m other_cpu_cores/$op/$p/echo)"
    done
  done
  R[mem/dht]=$MEM_DHT R[mem/redis]=$MEM_REDIS R[mem/redis_rss]=$MEM_REDIS_RSS
  row "memory B/record (RSS / used_memory)" mem/dht mem/redis - "<=" 0.7 ""
  row "memory B/record (RSS / RSS)" mem/dht mem/redis_rss - "<=" "" ""
  row "GetAll MB/s batch data (floor: LZO)" getall_mb - lzo_mb ">=" "" 0.75
  row "GetAll records/s (floor: LZO)" getall_rec - lzo_rec ">=" "" 0.75
  info "redis-benchmark GET/s, pipeline 1" "-" "$(rbget GET "$RB1")" "-"
  info "redis-benchmark SET/s, pipeline 1" "-" "$(rbget SET "$RB1")" "-"
  info "redis-benchmark GET/s, pipeline 16" "-" "$(rbget GET "$RB16")" "-"
  info "redis-benchmark SET/s, pipeline 16" "-" "$(rbget SET "$RB16")" "-"
  errs=0
  for k in "${!R[@]}"; do
    [[ $k == errors/* || $k == conn_failures/* ]] || continue
    for v in ${R[$k]}; do [[ $v =~ ^[0-9]+$ ]] && errs=$((errs + v)); done
  done
  echo
  failed=0; [[ -f "$TMP/failed" ]] && failed=$(wc -l <"$TMP/failed")
  alive=; for pid in "$DPID" "$RPID" "$EGPID" "$EPPID"; do kill -0 "$pid" 2>/dev/null || alive="$alive $pid"; done
  echo "error replies and failed connections over all runs: $errs; failed swarm-bench runs: $failed${alive:+; servers that died during the run:$alive}"
  echo "raw output: $LOG"
} | tee -a "$LOG"

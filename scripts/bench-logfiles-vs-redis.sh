#!/usr/bin/env bash
# The logfiles node against Redis streams, the swarm-echo floor and dd, on this machine, in one
# run (issue 10).
#
#   scripts/bench-logfiles-vs-redis.sh            # full run: 3 rounds (~10 minutes)
#   scripts/bench-logfiles-vs-redis.sh --quick    # smoke run: small counts, 1 round
#
# Installs redis-server and redis-tools with apt-get when missing, builds the release binaries,
# and starts on free 127.0.0.1 ports, all data in one temp dir (so on one disk): two
# logfilesnode (sync_mode = checkpoint, the default, and sync_mode = group), two redis-server
# (`--appendonly no`, and `--appendonly yes --appendfsync always`; no RDB snapshots) and a
# swarm-echo with a logfiles Put's message sizes. Then per round, node and Redis in alternating
# order:
#   - Put vs `XADD key * v value`, pipeline 1 and 16 (all connections on one channel / one
#     stream key), checkpoint node vs Redis without AOF, and the echo floor;
#   - the same against the group-commit node and Redis with appendfsync always (timed runs);
#   - PutBatch of 64 KiB raw batches from a few connections, into both nodes, vs
#     `dd bs=1M count=1024 conv=fdatasync` into the same dir (a `sync` before each);
#   - one GetRange of the 1,000,000 prefilled records vs XRANGE pages of COUNT 10000, and
#     `swarm-bench lzo` (LZO1X-1 alone over as many records: the floor of a scan);
# and prints one table of medians with the ratios and the issue's targets. Stops only the
# processes it started; raw output goes to the log.
#
# Environment overrides: VALUE_SIZE CONNECTIONS REQUESTS REQUESTS_P16 GROUP_SECONDS
# PB_CONNECTIONS PB_REQUESTS (PutBatch requests per run: 16384 x 64 KiB = 1 GiB raw, as dd)
# SCAN_RECORDS DD_MB ROUNDS LOG CARGO_TARGET_DIR BENCH_DIR (where the temp dir goes, /tmp),
# FILE_BUFFER_SIZE and GROUP_COMMIT_MS (the nodes' [Performance] file_buffer_size and
# [Options_Dls] group_commit_ms; unset: the node's defaults, 10 MiB and 0 ms), and QUIET_MAX
# (seconds to wait before each run for the machine to be idle, 20 here: the runs are many; 0
# disables the wait).
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
  : "${REQUESTS:=20000}" "${REQUESTS_P16:=100000}" "${GROUP_SECONDS:=1}" "${PB_REQUESTS:=256}"
  : "${SCAN_RECORDS:=50000}" "${DD_MB:=64}" "${ROUNDS:=1}"
fi
VALUE_SIZE=${VALUE_SIZE:-100}
CONNECTIONS=${CONNECTIONS:-50}
REQUESTS=${REQUESTS:-400000}
REQUESTS_P16=${REQUESTS_P16:-2000000}
GROUP_SECONDS=${GROUP_SECONDS:-5}
PB_CONNECTIONS=${PB_CONNECTIONS:-4}
PB_REQUESTS=${PB_REQUESTS:-16384}
SCAN_RECORDS=${SCAN_RECORDS:-1000000}
DD_MB=${DD_MB:-1024}
ROUNDS=${ROUNDS:-3}
QUIET_MAX=${QUIET_MAX:-20}
CHANNEL=bench
BATCH_CHANNEL=bench_batch
SCAN_CHANNEL=bench_scan
LOG=${LOG:-/tmp/bench-logfiles-vs-redis-$(date +%Y%m%d-%H%M%S).log}
: >"$LOG"
say "bench-logfiles-vs-redis: raw output in $LOG"

# --- tools ---------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  say "installing redis-server and redis-tools"
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update >>"$LOG" 2>&1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q redis-server redis-tools >>"$LOG" 2>&1
fi
# The XRANGE pages start after the previous page's last id, `(id`: Redis 6.2 or later.
REDIS_VERSION=$(redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
if [[ "$(printf '%s\n' 6.2 "$REDIS_VERSION" | sort -V | head -1)" != 6.2 ]]; then
  say "Redis $REDIS_VERSION has no exclusive XRANGE start (6.2); the scan needs it"
  exit 1
fi
say "building release binaries"
cargo build --release -p swarm-logfiles -p swarm-bench --bin logfilesnode --bin swarm-bench \
  --bin swarm-echo >>"$LOG" 2>&1
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
BENCH=$BIN/swarm-bench

# --- servers -------------------------------------------------------------------------------
TMP=$(mktemp -d "${BENCH_DIR:-/tmp}/bench-logfiles-vs-redis.XXXXXX")
trap cleanup EXIT

# start_node NAME SYNC_MODE: a logfilesnode in $TMP/NAME; sets PORT and PID.
start_node() {
  PORT=$(free_port)
  mkdir -p "$TMP/$1"
  cat >"$TMP/$1/config.ini" <<EOF
[Server]
address = 127.0.0.1
port = $PORT
data_dir = data
connection_limit = 5000

[Performance]
${FILE_BUFFER_SIZE:+file_buffer_size = $FILE_BUFFER_SIZE}

[Options_Dls]
sync_mode = $2
${GROUP_COMMIT_MS:+group_commit_ms = $GROUP_COMMIT_MS}

[LOG.Root]
file = log/root.log
EOF
  (cd "$TMP/$1" && exec "$BIN/logfilesnode" -c config.ini) >>"$LOG" 2>&1 &
  PID=$!; PIDS+=("$PID")
  wait_port "$PORT" "$PID" "logfilesnode ($2)" "$TMP/$1/log/root.log"
}
# start_redis NAME ARGS...: a redis-server in $TMP/NAME; sets PORT and PID.
start_redis() {
  local name=$1; shift
  PORT=$(free_port)
  mkdir -p "$TMP/$name"
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --dir "$TMP/$name" --daemonize no \
    --logfile "$TMP/$name/redis.log" "$@" >>"$LOG" 2>&1 &
  PID=$!; PIDS+=("$PID")
  wait_port "$PORT" "$PID" "redis-server ($name)" "$TMP/$name/redis.log"
}
start_node node checkpoint; NPORT=$PORT NPID=$PID
start_node group group; GPORT=$PORT GPID=$PID
start_redis redis --appendonly no; RPORT=$PORT RPID=$PID
start_redis redis_aof --appendonly yes --appendfsync always; FPORT=$PORT FPID=$PID
# The echo server moves a logfiles Put's bytes: code, channel, key, value; then a status.
PUT_REQ=$((4 + 8 + ${#CHANNEL} + 8 + 16 + 8 + VALUE_SIZE)); PUT_REP=4
EPORT=$(free_port)
"$BIN/swarm-echo" --addr "127.0.0.1:$EPORT" --request-size $PUT_REQ --reply-size $PUT_REP >>"$LOG" 2>&1 &
EPID=$!; PIDS+=("$EPID")
wait_port "$EPORT" "$EPID" swarm-echo
say "logfilesnode pids $NPID (checkpoint, port $NPORT) $GPID (group, port $GPORT); redis-server $REDIS_VERSION pids $RPID (appendonly no, port $RPORT) $FPID (appendfsync always, port $FPORT); swarm-echo pid $EPID port $EPORT"
say "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r); data in $TMP on $(df --output=source "$TMP" | tail -1); load at start: $(uptime | sed 's/.*load average: //')"

addr_of() { case $1 in node) echo "$NPORT" ;; group) echo "$GPORT" ;; redis) echo "$RPORT" ;; redis_aof) echo "$FPORT" ;; echo) echo "$EPORT" ;; esac; }
pid_of() { case $1 in node) echo "$NPID" ;; group) echo "$GPID" ;; redis) echo "$RPID" ;; redis_aof) echo "$FPID" ;; echo) echo "$EPID" ;; esac; }
target_of() { case $1 in node | group) echo logfiles ;; redis | redis_aof) echo redis ;; echo) echo echo ;; esac; }
# put SERVER PIPELINE COUNT_ARGS...: one Put/XADD run, its figures into R[f/put/P/SERVER].
put() {
  local t=$1 p=$2 j f; shift 2
  j=$(bench --target "$(target_of "$t")" --addr "127.0.0.1:$(addr_of "$t")" \
    --connections "$CONNECTIONS" --value-size "$VALUE_SIZE" --channel "$CHANNEL" --mix append \
    --pipeline "$p" "$@" --node-pid "$(pid_of "$t")")
  for f in ops_per_s node_cpu_us_per_req lat_p50_us lat_p99_us client_cpu_util other_cpu_cores \
    errors conn_failures; do
    add "$f/put/$p/$t" "$(jget $f "$j")"
  done
}
# putbatch SERVER: one PutBatch run; value MB/s into R[pb_*/SERVER].
putbatch() {
  local j f
  sync
  j=$(bench --target logfiles --addr "127.0.0.1:$(addr_of "$1")" --connections "$PB_CONNECTIONS" \
    --value-size "$VALUE_SIZE" --channel "$BATCH_CHANNEL" --mix putbatch --requests "$PB_REQUESTS" \
    --node-pid "$(pid_of "$1")")
  for f in value_mb_per_s records_per_s node_cpu_util lat_p99_us client_cpu_util other_cpu_cores \
    errors conn_failures; do
    add "pb_$f/$1" "$(jget $f "$j")"
  done
}
# dd_write: MB/s (10^6 bytes) of DD_MB MiB written with fdatasync into the data dir's disk.
dd_write() {
  local out secs
  sync; quiet
  say "\$ dd if=/dev/zero of=$TMP/ddtest bs=1M count=$DD_MB conv=fdatasync"
  out=$(LC_ALL=C dd if=/dev/zero of="$TMP/ddtest" bs=1M count="$DD_MB" conv=fdatasync 2>&1 | tail -1)
  echo "$out" >>"$LOG"
  rm -f "$TMP/ddtest"
  secs=$(sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p' <<<"$out")
  add "pb_value_mb_per_s/dd" "$(awk -v s="$secs" -v n="$DD_MB" 'BEGIN {if (s > 0) printf "%.1f", n * 1048576 / s / 1e6; else print "-"}')"
}
# scan SERVER: one timed read of the prefilled log (`prefill SERVER`: the prefill alone).
scan_args() {
  echo scan --target "$(target_of "$1")" --addr "127.0.0.1:$(addr_of "$1")" --channel "$SCAN_CHANNEL" \
    --records "$SCAN_RECORDS" --value-size "$VALUE_SIZE" --node-pid "$(pid_of "$1")"
}
scan() {
  local j f
  j=$(bench $(scan_args "$1") --no-prefill --rounds 1)
  for f in records_per_s value_mb_per_s node_cpu_us_per_record node_cpu_util client_cpu_util; do
    add "scan_$f/$1" "$(jget $f "$j")"
  done
}
prefill() {
  local j
  j=$(bench $(scan_args "$1") --rounds 0)
  add "scan_prefill_records_per_s/$1" "$(jget prefill_records_per_s "$j")"
}

declare -A R  # R[figure/op/pipeline/server] = "v1 v2 v3"

# --- prefill of the scans ------------------------------------------------------------------
prefill node
prefill redis

# --- runs ----------------------------------------------------------------------------------
for round in $(seq "$ROUNDS"); do
  say "== round $round of $ROUNDS"
  plain="node redis" durable="group redis_aof" batch="node group"
  if ((round % 2 == 0)); then plain="redis node" durable="redis_aof group" batch="group node"; fi
  for p in 1 16; do
    n=$REQUESTS; [[ $p -eq 16 ]] && n=$REQUESTS_P16
    for t in $plain echo; do put "$t" "$p" --requests "$n"; done
    for t in $durable; do put "$t" "$p" --duration "$GROUP_SECONDS"; done
  done
  for t in $batch; do putbatch "$t"; done
  dd_write
  for t in $plain; do scan "$t"; done
  # The floor of a scan: LZO1X-1 alone over as many records in 64 KiB batches.
  j=$(bench lzo --keys "$SCAN_RECORDS" --value-size "$VALUE_SIZE")
  add scan_records_per_s/lzo "$(jget records_per_s "$j")"
done

# --- table ---------------------------------------------------------------------------------
{
  echo
  echo "logfiles node vs Redis streams vs swarm-echo / dd: one channel / stream key for all $CONNECTIONS connections,"
  echo "$VALUE_SIZE-byte values, medians of $ROUNDS round(s); ratios are medians of the per-round ratios"
  echo "(Put: $REQUESTS requests at pipeline 1, $REQUESTS_P16 at 16; group / appendfsync always: $GROUP_SECONDS s runs;"
  echo "PutBatch: $PB_REQUESTS batches of 64 KiB raw from $PB_CONNECTIONS connections; dd: $DD_MB MiB, conv=fdatasync;"
  echo "scan: $SCAN_RECORDS records; Redis $REDIS_VERSION; load at end: $(uptime | sed 's/.*load average: //'))"
  echo
  line figure node Redis echo/floor n/Redis target n/floor target
  echo "|--------------------------------------|-----------:|-----------:|-----------:|----------:|-------------|----------:|-------------|"
  for p in 1 16; do
    row "Put ops/s, pipeline $p" ops_per_s/put/$p/node ops_per_s/put/$p/redis ops_per_s/put/$p/echo \
      ">=" 1.3 ""
  done
  for p in 1 16; do
    row "Put server CPU us/request, pipe $p" node_cpu_us_per_req/put/$p/node \
      node_cpu_us_per_req/put/$p/redis node_cpu_us_per_req/put/$p/echo "<=" "" ""
  done
  for p in 1 16; do
    row "Put p99 latency us, pipeline $p" lat_p99_us/put/$p/node lat_p99_us/put/$p/redis \
      lat_p99_us/put/$p/echo "<=" "" ""
  done
  for p in 1 16; do
    row "group Put ops/s vs fsync always, p$p" ops_per_s/put/$p/group ops_per_s/put/$p/redis_aof - \
      ">=" 3 ""
  done
  for p in 1 16; do
    row "group Put CPU us/request, pipe $p" node_cpu_us_per_req/put/$p/group \
      node_cpu_us_per_req/put/$p/redis_aof - "<=" "" ""
  done
  for p in 1 16; do
    row "group Put p50 latency us, pipe $p" lat_p50_us/put/$p/group lat_p50_us/put/$p/redis_aof - \
      "<=" "" ""
    row "group Put p99 latency us, pipe $p" lat_p99_us/put/$p/group lat_p99_us/put/$p/redis_aof - \
      "<=" "" ""
  done
  row "PutBatch value MB/s (floor: dd)" pb_value_mb_per_s/node - pb_value_mb_per_s/dd ">=" "" 0.5
  row "PutBatch group value MB/s (dd)" pb_value_mb_per_s/group - pb_value_mb_per_s/dd ">=" "" ""
  # Rows of two nodes: the checkpoint node in the first column, the group node in the second.
  info "PutBatch records/s (ckpt / group)" "$(m pb_records_per_s/node)" "$(m pb_records_per_s/group)" "-"
  info "PutBatch node CPU cores (ckpt / grp)" "$(m pb_node_cpu_util/node)" "$(m pb_node_cpu_util/group)" "-"
  info "PutBatch p99 latency us (ckpt / grp)" "$(m pb_lat_p99_us/node)" "$(m pb_lat_p99_us/group)" "-"
  row "GetRange vs XRANGE records/s (LZO)" scan_records_per_s/node scan_records_per_s/redis \
    scan_records_per_s/lzo ">=" 5 ""
  row "GetRange vs XRANGE value MB/s" scan_value_mb_per_s/node scan_value_mb_per_s/redis - ">=" "" ""
  row "scan server CPU us/record" scan_node_cpu_us_per_record/node \
    scan_node_cpu_us_per_record/redis - "<=" "" ""
  info "scan server CPU (cores)" "$(m scan_node_cpu_util/node)" "$(m scan_node_cpu_util/redis)" "-"
  info "scan client CPU (cores)" "$(m scan_client_cpu_util/node)" "$(m scan_client_cpu_util/redis)" "-"
  info "scan prefill records/s" "$(m scan_prefill_records_per_s/node)" \
    "$(m scan_prefill_records_per_s/redis)" "-"
  for p in 1 16; do
    info "Put client CPU (cores), pipeline $p" "$(m client_cpu_util/put/$p/node)" \
      "$(m client_cpu_util/put/$p/redis)" "$(m client_cpu_util/put/$p/echo)"
  done
  for p in 1 16; do
    info "Put others' CPU (cores), pipe $p" "$(m other_cpu_cores/put/$p/node)" \
      "$(m other_cpu_cores/put/$p/redis)" "$(m other_cpu_cores/put/$p/echo)"
    info "group Put others' CPU (cores), p$p" "$(m other_cpu_cores/put/$p/group)" \
      "$(m other_cpu_cores/put/$p/redis_aof)" "-"
  done
  info "PutBatch others' CPU (ckpt / grp)" "$(m pb_other_cpu_cores/node)" "$(m pb_other_cpu_cores/group)" "-"
  errs=0
  for k in "${!R[@]}"; do
    case $k in
      errors/* | conn_failures/* | pb_errors/* | pb_conn_failures/*)
        for v in ${R[$k]}; do [[ $v =~ ^[0-9]+$ ]] && errs=$((errs + v)); done ;;
    esac
  done
  echo
  failed=0; [[ -f "$TMP/failed" ]] && failed=$(wc -l <"$TMP/failed")
  alive=; for pid in "$NPID" "$GPID" "$RPID" "$FPID" "$EPID"; do kill -0 "$pid" 2>/dev/null || alive="$alive $pid"; done
  echo "error replies and failed connections over all runs: $errs; failed swarm-bench runs: $failed${alive:+; servers that died during the run:$alive}"
  echo "disk use of the data dir at the end: $(du -sh "$TMP" | cut -f1)"
  echo "raw output: $LOG"
} | tee -a "$LOG"

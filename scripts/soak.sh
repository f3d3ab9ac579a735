#!/usr/bin/env bash
# Soak test (issue 13): a local cluster of every node kind (scripts/local-cluster.sh: two dht
# nodes with their dhtdumps, a queue node, a logfiles node) under a steady, moderate mixed
# load from swarm-soak (bench/src/bin/swarm-soak/) for MINUTES, sampling each process's RSS
# (VmRSS), open fds (/proc/PID/fd) and data dir size every interval, and judging whether the
# steady state grows.
#
#   scripts/soak.sh MINUTES [DIR]    MINUTES may be a fraction (0.5); DIR defaults to a new
#                                    temp dir, which is kept (it holds the CSV and the logs)
#
# It builds the release binaries (unless SWARM_BIN_DIR is set), starts the cluster in DIR on
# free ports, runs the driver, and on every driver report line (one per interval; the first,
# t=0, before any load) writes one CSV row per process to DIR/soak.csv:
#
#   time_s,process,pid,rss_kib,fds,disk_kib,<the driver's columns: per kind dht, queue,
#   logfiles, getall, getrange, churn: _req,_err,_p50_us,_p99_us,_max_us; and the stream
#   counters listen_events, listen_err, consume_pushed, consumed, consume_err, stream_records>
#
# Processes: dht-1, dht-2, dhtdump-1, dhtdump-2, queue-1, logfiles-1 and the driver itself
# (its client library could leak too). disk_kib is the node's data dir (empty for the others);
# the driver's columns are that interval's, the same on each process's row. At the end it
# writes DIR/soak-summary.md (and prints it): per process RSS and fds at the start, at the end
# of warm-up (the first sample at or after SOAK_WARMUP_PCT % of the run), at the end, and the
# max; the logfiles data size (it grows by design); the driver's rates, errors and p50/p99
# per kind in the first and the last interval; and a verdict per process: "steady" when RSS at
# the end is at most warm-up's + SOAK_RSS_PCT % + SOAK_RSS_KIB KiB and fds at the end at most
# warm-up's + SOAK_FD_SLACK (connections the driver may be opening or closing at a sample),
# else "GROWING" (or "DIED"). Then it stops the cluster.
#
# Environment: SOAK_SECONDS=N runs N seconds instead of MINUTES (for tests); SOAK_INTERVAL
# (10) seconds between samples; SOAK_WARMUP_PCT (20); SOAK_RSS_PCT (5); SOAK_RSS_KIB (4096);
# SOAK_FD_SLACK (4); SOAK_ARGS: more swarm-soak options (rates, key space; see
# `swarm-soak --help`), e.g. SOAK_ARGS="--dht-rate 200"; SWARM_BIN_DIR=DIR takes dhtnode,
# dhtdump, queuenode, logfilesnode, swarm and swarm-soak from DIR instead of building them;
# LOCAL_CLUSTER_BASE_PORT (0 here: free ports).
#
# Exit codes: 0 every process steady and no operation failed; 1 a process grew or died, an
# operation failed, or the cluster did not start or stop; 2 usage.
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
REPO=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  echo "usage: soak.sh MINUTES [DIR]   (-h for help)" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
[[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
SECONDS_RUN=${SOAK_SECONDS:-$(awk -v m="$1" 'BEGIN {printf "%d", m * 60 + 0.5}')}
INTERVAL=${SOAK_INTERVAL:-10}
WARMUP_PCT=${SOAK_WARMUP_PCT:-20}
RSS_PCT=${SOAK_RSS_PCT:-5}
RSS_KIB=${SOAK_RSS_KIB:-4096}
FD_SLACK=${SOAK_FD_SLACK:-4}
for v in SECONDS_RUN INTERVAL WARMUP_PCT RSS_PCT RSS_KIB FD_SLACK; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "soak.sh: $v must be a whole number, not '${!v}'" >&2; exit 2; }
done
((SECONDS_RUN > 0 && INTERVAL > 0)) || { echo "soak.sh: the run and the interval must be > 0 s" >&2; exit 2; }

if [[ -n "${SWARM_BIN_DIR:-}" ]]; then
  BIN=$(cd "$SWARM_BIN_DIR" && pwd)
else
  echo "building release binaries (cargo build --release) ..."
  (cd "$REPO" && cargo build --release --quiet -p swarm-dht -p swarm-dhtdump -p swarm-queue \
    -p swarm-logfiles -p swarm-cli -p swarm-bench --bin dhtnode --bin dhtdump --bin queuenode \
    --bin logfilesnode --bin swarm --bin swarm-soak)
  BIN=$REPO/target/release
fi
[[ -x "$BIN/swarm-soak" ]] || { echo "soak.sh: $BIN/swarm-soak is missing" >&2; exit 1; }

DIR=${2:-$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CSV=$DIR/soak.csv
SUMMARY=$DIR/soak-summary.md
cluster() {
  SWARM_BIN_DIR=$BIN LOCAL_CLUSTER_BASE_PORT=${LOCAL_CLUSTER_BASE_PORT:-0} \
    "$REPO/scripts/local-cluster.sh" "$1" "$DIR/cluster"
}

DRIVER=
STARTED=
finish() {
  [[ -n "$DRIVER" ]] && kill -TERM "$DRIVER" 2>/dev/null || true
  if [[ -n "$STARTED" ]]; then cluster stop >>"$DIR/cluster.log" 2>&1 || STOP_FAILED=1; fi
  rm -f "$DIR/driver.fifo"
}
STOP_FAILED=
trap finish EXIT

echo "soak: $SECONDS_RUN s, samples every $INTERVAL s, in $DIR"
STARTED=1
cluster start >"$DIR/cluster.log" 2>&1 || { cat "$DIR/cluster.log" >&2; exit 1; }

# name and directory (under DIR/cluster) of each process; the driver is added once it runs.
NAMES=(dht-1 dht-2 dhtdump-1 dhtdump-2 queue-1 logfiles-1)
DIRS=(dht-1 dht-2 dht-1/dump dht-2/dump queue-1 logfiles-1)
PIDS=()
for d in "${DIRS[@]}"; do PIDS+=("$(cat "$DIR/cluster/$d/pid")"); done

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
fds() { if [[ -d /proc/$1/fd ]]; then find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; fi; }
disk_kib() { [[ -d "$1" ]] && du -sk "$1" 2>/dev/null | cut -f1 || true; }

# sample T COLUMNS: one CSV row per process at T seconds, each ending with COLUMNS.
sample() {
  local i pid disk
  for i in "${!NAMES[@]}"; do
    pid=${PIDS[$i]} disk=
    [[ "${NAMES[$i]}" == dhtdump-* || "${NAMES[$i]}" == driver ]] || disk=$(disk_kib "$DIR/cluster/${DIRS[$i]}/data")
    echo "$1,${NAMES[$i]},$pid,$(rss_kib "$pid"),$(fds "$pid"),$disk,$2" >>"$CSV"
  done
}

mkfifo "$DIR/driver.fifo"
# shellcheck disable=SC2086 # SOAK_ARGS is a list of options
"$BIN/swarm-soak" --cluster "$DIR/cluster" --seconds "$SECONDS_RUN" --interval "$INTERVAL" \
  ${SOAK_ARGS:-} >"$DIR/driver.fifo" 2>"$DIR/driver.err" &
DRIVER=$!
NAMES+=(driver) DIRS+=(-) PIDS+=("$DRIVER")
exec 3<"$DIR/driver.fifo"
header=
while IFS= read -r line <&3; do
  echo "$line" >>"$DIR/driver.log"
  case "$line" in
    t=*)
      t=${line%% *} t=${t#t=}
      cols=$(tr ' ' '\n' <<<"${line#* }" | cut -d= -f2 | paste -sd,)
      if [[ -z "$header" ]]; then
        header="time_s,process,pid,rss_kib,fds,disk_kib,$(tr ' ' '\n' <<<"${line#* }" | cut -d= -f1 | paste -sd,)"
        echo "$header" >"$CSV"
      fi
      sample "$t" "$cols"
      awk -v t="$t" -v i="$INTERVAL" '{
        for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2]; if (kv[1] ~ /_err$/) e += kv[2] }
        printf "t=%ss  dht %d/s p99 %sus  queue %d/s p99 %sus  logfiles %d/s p99 %sus  errors %d\n", t,
          v["dht_req"] / i, v["dht_p99_us"], v["queue_req"] / i, v["queue_p99_us"],
          v["logfiles_req"] / i, v["logfiles_p99_us"], e }' <<<"$line"
      ;;
  esac
done
exec 3<&-
set +e
wait "$DRIVER"
DRIVER_RC=$?
set -e
DRIVER=
[[ -s "$DIR/driver.err" ]] && { echo "driver stderr ($DIR/driver.err):"; tail -20 "$DIR/driver.err"; }

RUN_OK=0
"$REPO/scripts/soak-summary.sh" "$CSV" "$DIR/driver.log" "$WARMUP_PCT" "$RSS_PCT" "$RSS_KIB" \
  "$FD_SLACK" "$DRIVER_RC" >"$SUMMARY" || RUN_OK=1
cat "$SUMMARY"
echo "CSV: $CSV; summary: $SUMMARY; logs under $DIR/cluster"
finish
trap - EXIT
STARTED=
if [[ -n "$STOP_FAILED" ]]; then
  echo "soak.sh: the cluster did not stop cleanly ($DIR/cluster.log)" >&2
  exit 1
fi
exit "$RUN_OK"

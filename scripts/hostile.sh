#!/usr/bin/env bash
# Hostile clients against each node kind at the issue's sizes (issue 13), one markdown table per
# kind: case, RSS before / peak / after, control p50 / p99 before and during, p99 ratio, whether
# the stored records are unchanged, the case's counters.
#
#   scripts/hostile.sh [dht|queue|logfiles|all]    # default: all
#   scripts/hostile.sh --ci [KIND]                 # the bounded sizes of the cargo tests
#
# Builds the release node binaries and the swarm-hostile driver (testkit/src/bin/swarm-hostile.rs),
# raises `ulimit -n` to 20000 where it is lower, and runs every case: 10,000 connections against
# connection_limit 2000; 200 slowloris connections at a byte a second against request_timeout_ms
# 5000; 1000 idle connections against idle_timeout_s 3; 50 clients that never read a GetAll /
# Consume / GetRange of an 8 MiB channel; 100,000 mutated frames (length fields 2^40, 2^63,
# 2^64-1, 10 MiB - 1, 10 MiB, 10 MiB + 1, flips, cuts, codes, LZO bombs for PutBatch) each on its
# own connection; 200 connections each holding a 10 MiB - 1 array with input_buffer_limit
# 256 MiB. Each case starts its node over a new temp directory (removed after) with those limits
# and 2000 control requests before and during. Bounds: RSS growth < the input budget (input_buffer_limit
# + 64 KiB x connection_limit, as the node counts it) + 64 MiB,
# control p99 during <= 3 x baseline p99 + 2 ms (P99_FLOOR_MS), records unchanged, node serving;
# broken bounds are listed under the table and make the exit status 1. Takes about 1.5 minutes a
# kind.
#
# Measurement: on a machine with two cores or more, the node's threads and the control client
# run on core 0, the driver and every attack thread on core 1 (sched_setaffinity), so the control
# client's p99 is the node's delay, not the attack threads' competition for the cores; a long
# loop turn still delays it as it delays any client. Other processes on the machine are not
# moved: run it on a quiet machine. HOSTILE_ARGS (e.g. "--no-pin", "--case held_arrays") is
# passed to the driver. Environment: P99_FLOOR_MS, HOSTILE_ARGS, CARGO_TARGET_DIR.
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
cd "$(dirname "$0")/.."
SIZES=()
if [[ "${1:-}" == "--ci" ]]; then
  SIZES=(--ci)
  shift
fi
KIND="${1:-all}"
case "$KIND" in
  dht | queue | logfiles) KINDS=("$KIND") ;;
  all) KINDS=(dht queue logfiles) ;;
  *)
    echo "$0: unknown kind $KIND (dht, queue, logfiles or all; see --help)" >&2
    exit 2
    ;;
esac
if (($(ulimit -n) < 20000)); then
  ulimit -n 20000
fi
cargo build --release --quiet -p swarm-dht --bin dhtnode -p swarm-queue --bin queuenode \
  -p swarm-logfiles --bin logfilesnode -p swarm-testkit --bin swarm-hostile
TARGET="$(realpath "${CARGO_TARGET_DIR:-target}")/release"
declare -A BIN=([dht]=dhtnode [queue]=queuenode [logfiles]=logfilesnode)
status=0
for kind in "${KINDS[@]}"; do
  # shellcheck disable=SC2086 # HOSTILE_ARGS is split into words on purpose
  "$TARGET/swarm-hostile" --kind "$kind" --bin "$TARGET/${BIN[$kind]}" \
    --p99-floor-ms "${P99_FLOOR_MS:-2}" "${SIZES[@]}" ${HOSTILE_ARGS:-} || status=1
  echo
done
exit "$status"

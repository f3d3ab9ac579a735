#!/usr/bin/env bash
# A local cluster of every node kind on this machine, for trying the suite and the `swarm` CLI:
#
#   scripts/local-cluster.sh start [DIR]    build the release binaries (unless SWARM_BIN_DIR is
#                                           set) and start, each in its own directory under DIR:
#                                           two dht nodes on split hash ranges (dht-1, dht-2),
#                                           a dhtdump for each (dht-N/dump), a queue node
#                                           (queue-1) and a logfiles node (logfiles-1)
#   scripts/local-cluster.sh status [DIR]   each process's pid, address, records and memory (RSS)
#   scripts/local-cluster.sh stop [DIR]     SIGTERM every process (the dht and queue nodes dump
#                                           their data first) and wait until each is gone
#
# DIR defaults to target/local-cluster. It gets one nodes file per kind, for `swarm --nodes`
# and the client library: dht.nodes, queue.nodes, logfiles.nodes. A second `start` keeps the
# data of the first (the nodes load their dumps). Each process's directory holds its
# config.ini (written at the first start; edit it and restart to change a setting), data/,
# log/root.log, log/stats.log, its stderr and its pid.
#
# Ports: dht 10001 and 10002, queue 11001, logfiles 12001 (LOCAL_CLUSTER_BASE_PORT=B moves
# them to B+1, B+2, B+1001, B+2001; LOCAL_CLUSTER_BASE_PORT=0 gives every node a free port,
# read back from its "listening on" line). The nodes listen on 127.0.0.1 only. Each process
# serves /metrics and /health (docs/METRICS.md) on its port + 100 (dhtdump-N: its node's + 200;
# with LOCAL_CLUSTER_BASE_PORT=0 a free port); `status` shows the address.
# SWARM_BIN_DIR=DIR takes dhtnode, dhtdump, queuenode, logfilesnode and swarm from DIR instead
# of building them (e.g. target/debug).
#
# Exit codes: 0 done; 1 a process did not start or stop, or (status) one is not running;
# 2 usage.
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
REPO=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  echo "usage: local-cluster.sh start|stop|status [DIR]   (-h for help)" >&2
  exit 2
}

cmd=${1:-}
[[ $# -le 2 ]] || usage
DIR=${2:-$REPO/target/local-cluster}
BASE=${LOCAL_CLUSTER_BASE_PORT:-10000}
[[ "$BASE" =~ ^[0-9]+$ ]] && ((BASE == 0 || BASE + 2001 <= 65535)) || {
  echo "local-cluster.sh: LOCAL_CLUSTER_BASE_PORT must be 0 or a port up to 63534, not '$BASE'" >&2
  exit 2
}

# The processes, in start order: name, program, directory (relative to DIR), port offset.
# A dhtdump has no port; it follows its node (the directory above its own).
PROCS=(
  "dht-1 dhtnode dht-1 1"
  "dht-2 dhtnode dht-2 2"
  "dhtdump-1 dhtdump dht-1/dump -"
  "dhtdump-2 dhtdump dht-2/dump -"
  "queue-1 queuenode queue-1 1001"
  "logfiles-1 logfilesnode logfiles-1 2001"
)

binaries() {
  if [[ -n "${SWARM_BIN_DIR:-}" ]]; then
    BIN=$(cd "$SWARM_BIN_DIR" && pwd)
  else
    echo "building release binaries (cargo build --release) ..."
    (cd "$REPO" && cargo build --release --quiet -p swarm-dht -p swarm-dhtdump -p swarm-queue \
      -p swarm-logfiles -p swarm-cli --bin dhtnode --bin dhtdump --bin queuenode \
      --bin logfilesnode --bin swarm)
    BIN=$REPO/target/release
  fi
  local p
  for p in dhtnode dhtdump queuenode logfilesnode swarm; do
    [[ -x "$BIN/$p" ]] || { echo "local-cluster.sh: $BIN/$p is missing" >&2; exit 1; }
  done
}

pid_of() { cat "$DIR/$1/pid" 2>/dev/null || true; }
running() { local pid; pid=$(pid_of "$1"); [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }
port_of() { if [[ "$BASE" == 0 ]]; then echo 0; else echo $((BASE + $1)); fi; }
# The address a node listens on, from its "listening on" line.
addr_of() { grep -o 'listening on [^ ]*' "$DIR/$1/stderr" 2>/dev/null | tail -1 | cut -d' ' -f3; }

# metrics_port PORT OFFSET: the /metrics port of a process whose (node's) port is PORT.
metrics_port() { if [[ "$BASE" == 0 ]]; then echo 0; else echo $(($1 + $2)); fi; }
# The /metrics address of the process in DIR, from its root.log.
metrics_of() {
  grep -o 'metrics: serving http://[^/]*' "$DIR/$1/log/root.log" 2>/dev/null | tail -1 | cut -d/ -f3
}

# write_config NAME PROGRAM DIR PORT: the process's config.ini, unless it has one already.
write_config() {
  local name=$1 prog=$2 d=$DIR/$3 port=$4 conf=$DIR/$3/config.ini
  mkdir -p "$d/data" "$d/log"
  [[ -f "$conf" ]] && return
  # Each kind's own [Server] keys: the dht nodes split the hash range (bit-reversed keys), the
  # queue node gets 64 MiB rings instead of the default 2 GB.
  local extra=
  case "$name" in
    dht-1) extra=$'minval = 0x0000000000000000\nmaxval = 0x7fffffffffffffff' ;;
    dht-2) extra=$'minval = 0x8000000000000000\nmaxval = 0xffffffffffffffff' ;;
    queue-*) extra='channel_size_limit = 67108864' ;;
  esac
  cat >"$conf" <<INI
; Written by scripts/local-cluster.sh; etc/${prog%node}/config.ini documents every key.
[Server]
address = 127.0.0.1
port = $port
data_dir = data
${extra}

[LOG.Root]
file = log/root.log

[Stats]
http_port = $(metrics_port "$port" 100)
INI
}

# write_dump_config DIR NODE_ADDR: dhtdump's config; its node's port can change with BASE=0.
write_dump_config() {
  local d=$DIR/$1 addr=$2
  mkdir -p "$d/log"
  cat >"$d/config.ini" <<INI
; Written by scripts/local-cluster.sh at each start; etc/dhtdump/config.ini documents every key.
[Dht]
address = ${addr%:*}
port = ${addr##*:}

[Dump]
data_dir = ../data
period_s = 300
min_wait_s = 60
retry_wait_s = 30

[LOG.Root]
file = log/root.log

[STATS]
file_name = log/stats.log
http_port = $(metrics_port "${addr##*:}" 200)
INI
}

# start_proc NAME PROGRAM DIR: starts it in its directory; nodes are waited for until they print
# their "listening on" line, a dhtdump until its root.log says it started.
start_proc() {
  local name=$1 prog=$2 d=$DIR/$3
  if running "$3"; then
    echo "$name: already runs (pid $(pid_of "$3"))"
    return
  fi
  : >"$d/stderr"
  (cd "$d" && exec "$BIN/$prog" -c config.ini </dev/null >/dev/null 2>stderr) &
  echo $! >"$d/pid"
  local _
  for _ in $(seq 200); do
    if [[ "$prog" == dhtdump ]]; then
      if [[ -s "$d/log/root.log" ]]; then echo "$name: started (pid $(pid_of "$3"), $d)"; return; fi
    elif [[ -n "$(addr_of "$3")" ]]; then
      echo "$name: listening on $(addr_of "$3") (pid $(pid_of "$3"), $d)"
      return
    fi
    running "$3" || break
    sleep 0.1
  done
  echo "local-cluster.sh: $name did not start; its stderr ($d/stderr):" >&2
  cat "$d/stderr" >&2
  exit 1
}

# stop_proc NAME DIR: SIGTERM, then wait (dumps can take a while) until it is gone.
stop_proc() {
  local name=$1 pid; pid=$(pid_of "$2")
  if ! running "$2"; then
    rm -f "$DIR/$2/pid"
    echo "$name: not running"
    return
  fi
  kill -TERM "$pid"
  local _
  for _ in $(seq 3000); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "local-cluster.sh: $name (pid $pid) did not exit within 300 s" >&2
    return 1
  fi
  rm -f "$DIR/$2/pid"
  echo "$name: stopped"
}

rss_of() { awk '/^VmRSS:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status" 2>/dev/null || true; }

# records_of KIND ADDR [OPTION]: the node's total records, from `swarm --json --node ADDR KIND
# size` (a dht node alone covers only its part of the hash range: --partial).
records_of() {
  "$BIN/swarm" --json --timeout 2 --node "$2" "$1" ${3:+"$3"} size 2>/dev/null \
    | grep -o '"total":true.*' | grep -o '"records":[0-9]*' | cut -d: -f2 || true
}

case "$cmd" in
  start)
    binaries
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    : >"$DIR/dht.nodes.tmp"
    : >"$DIR/queue.nodes.tmp"
    : >"$DIR/logfiles.nodes.tmp"
    for p in "${PROCS[@]}"; do
      read -r name prog d off <<<"$p"
      if [[ "$prog" == dhtdump ]]; then
        node=${d%/dump}
        write_dump_config "$d" "$(addr_of "$node")"
      else
        write_config "$name" "$prog" "$d" "$(port_of "$off")"
      fi
      start_proc "$name" "$prog" "$d"
      case "$prog" in
        dhtnode) addr_of "$d" >>"$DIR/dht.nodes.tmp" ;;
        queuenode) addr_of "$d" >>"$DIR/queue.nodes.tmp" ;;
        logfilesnode) addr_of "$d" >>"$DIR/logfiles.nodes.tmp" ;;
      esac
    done
    for k in dht queue logfiles; do mv "$DIR/$k.nodes.tmp" "$DIR/$k.nodes"; done
    echo "nodes files: $DIR/dht.nodes $DIR/queue.nodes $DIR/logfiles.nodes"
    echo "try: $BIN/swarm --nodes $DIR/dht.nodes dht put test 0x1 hello"
    ;;
  stop)
    [[ -d "$DIR" ]] || { echo "local-cluster.sh: no cluster in $DIR" >&2; exit 1; }
    rc=0
    # dhtdumps first, so none starts a dump of a node that is going away.
    for p in "${PROCS[@]:2:2}" "${PROCS[@]:0:2}" "${PROCS[@]:4}"; do
      read -r name prog d off <<<"$p"
      stop_proc "$name" "$d" || rc=1
    done
    exit "$rc"
    ;;
  status)
    [[ -d "$DIR" ]] || { echo "local-cluster.sh: no cluster in $DIR" >&2; exit 1; }
    if [[ -n "${SWARM_BIN_DIR:-}" ]]; then BIN=$(cd "$SWARM_BIN_DIR" && pwd); else BIN=$REPO/target/release; fi
    rc=0
    printf '%-11s %-13s %-8s %-21s %10s %12s  %s\n' NAME PROGRAM PID ADDRESS RECORDS RSS METRICS
    for p in "${PROCS[@]}"; do
      read -r name prog d off <<<"$p"
      if ! running "$d"; then
        printf '%-11s %-13s %-8s %-21s %10s %12s\n' "$name" "$prog" - - - stopped
        rc=1
        continue
      fi
      pid=$(pid_of "$d")
      addr=- records=-
      case "$prog" in
        dhtnode) addr=$(addr_of "$d"); records=$(records_of dht "$addr" --partial) ;;
        queuenode) addr=$(addr_of "$d"); records=$(records_of queue "$addr") ;;
        logfilesnode) addr=$(addr_of "$d"); records=$(records_of logs "$addr") ;;
        dhtdump) addr="(dumps ${d%/dump})" ;;
      esac
      printf '%-11s %-13s %-8s %-21s %10s %12s  %s\n' "$name" "$prog" "$pid" "$addr" \
        "${records:-?}" "$(rss_of "$pid")" "$(metrics_of "$d")"
    done
    exit "$rc"
    ;;
  *) usage ;;
esac

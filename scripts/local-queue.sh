#!/usr/bin/env bash
# Queue nodes on this machine, for trying the queue client and its examples:
#
#   scripts/local-queue.sh start [N]    build queuenode (release) and start N nodes (default 3) on
#                                       127.0.0.1, ports QUEUE_BASE_PORT+1.. (default 11001..)
#   scripts/local-queue.sh restart I    restart node I (1-based) gracefully: SIGTERM, wait, start
#                                       again on the same port and data
#   scripts/local-queue.sh kill I       SIGKILL node I (what it held in memory is lost), no restart
#   scripts/local-queue.sh stop         SIGTERM every node and wait for it
#   scripts/local-queue.sh status       which nodes run
#
# Everything lives in LOCAL_QUEUE_DIR (default target/local-queue): node-I/ holds each node's
# config.ini, data/, log/ (root.log, stats.log), stderr and pid; nodes.txt lists the nodes for
# QueueClient::from_nodes_file and the examples' --nodes. QUEUENODE_BIN=/path/to/queuenode skips
# the build.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${LOCAL_QUEUE_DIR:-target/local-queue}
BASE=${QUEUE_BASE_PORT:-11000}

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

node_dir() { echo "$DIR/node-$1"; }
node_pid() { cat "$(node_dir "$1")/pid" 2>/dev/null || true; }
running() { local pid; pid=$(node_pid "$1"); [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }
count() { cat "$DIR/nodes.txt" 2>/dev/null | wc -l; }

# start_node I: starts node I from its config and waits for its "listening on" line.
start_node() {
  local d; d=$(node_dir "$1")
  if running "$1"; then echo "node $1 already runs (pid $(node_pid "$1"))"; return; fi
  (cd "$d" && exec "$BIN" -c config.ini >stdout 2>stderr) &
  echo $! >"$d/pid"
  for _ in $(seq 100); do
    if grep -q "listening on" "$d/stderr" 2>/dev/null; then
      echo "node $1: $(grep -o 'listening on [^ ]*' "$d/stderr") (pid $(node_pid "$1"), $d)"
      return
    fi
    if ! running "$1"; then break; fi
    sleep 0.1
  done
  echo "node $1 did not start:" >&2
  cat "$d/stderr" >&2
  exit 1
}

# stop_node I [SIG]: signals node I (TERM by default) and waits until it is gone.
stop_node() {
  local pid; pid=$(node_pid "$1")
  if ! running "$1"; then echo "node $1 is not running"; return; fi
  kill "-${2:-TERM}" "$pid"
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "node $1 (pid $pid) did not exit" >&2; exit 1; fi
  rm -f "$(node_dir "$1")/pid"
  echo "node $1 stopped (SIG${2:-TERM})"
}

binary() {
  if [[ -n "${QUEUENODE_BIN:-}" ]]; then BIN=$(realpath "$QUEUENODE_BIN"); return; fi
  cargo build --release --quiet -p swarm-queue --bin queuenode
  BIN=$(realpath target/release/queuenode)
}

cmd=${1:-}
case "$cmd" in
  start)
    n=${2:-3}
    binary
    mkdir -p "$DIR"
    : >"$DIR/nodes.txt"
    for i in $(seq "$n"); do
      d=$(node_dir "$i")
      mkdir -p "$d"
      port=$((BASE + i))
      cat >"$d/config.ini" <<INI
; Written by scripts/local-queue.sh; etc/queue/config.ini documents every key.
[Server]
address = 127.0.0.1
port = $port
data_dir = data
channel_size_limit = 67108864

[LOG.Root]
file = log/root.log
INI
      echo "127.0.0.1:$port" >>"$DIR/nodes.txt"
      start_node "$i"
    done
    echo "nodes file: $DIR/nodes.txt"
    ;;
  restart)
    [[ -n "${2:-}" ]] || usage
    binary
    stop_node "$2"
    start_node "$2"
    ;;
  kill)
    [[ -n "${2:-}" ]] || usage
    stop_node "$2" KILL
    ;;
  stop)
    for i in $(seq "$(count)"); do stop_node "$i"; done
    ;;
  status)
    for i in $(seq "$(count)"); do
      if running "$i"; then echo "node $i: runs (pid $(node_pid "$i")), $(sed -n "${i}p" "$DIR/nodes.txt")"
      else echo "node $i: stopped"; fi
    done
    ;;
  *) usage ;;
esac

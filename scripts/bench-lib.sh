# Shell helpers of the benchmark scripts (sourced, not run): the processes a script started and
# their cleanup, free ports on 127.0.0.1, waiting for a server's port and for the machine to be
# idle, running swarm-bench and reading one field of its --json line, and the comparison
# table of bench-vs-redis.sh and bench-queue-vs-redis.sh (medians of the rounds' figures in R,
# per-round ratios, targets).
#
# Globals the helpers read: LOG (say, bench, wait_port), BENCH (the swarm-bench binary), TMP
# (bench marks failed runs in $TMP/failed), QUIET_MAX (quiet), R (an associative array the
# script declares: R[key] = "round1 round2 ...", filled by add).

PIDS=()
# Stops the processes in PIDS (the script's own, none other) and removes $TMP if set.
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # `wait` returns at once for a process started in a subshell: wait until each one exited
  # (its shutdown dump written) before its data directory goes, for at most 60 s, then kill it.
  # Removing the directory under a dumping node made the dump fail, and a node whose shutdown
  # dump fails keeps serving (so as not to lose its data): it outlived the script.
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ -n "${TMP:-}" ]]; then rm -rf "$TMP"; fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A port free on 127.0.0.1 whose neighbour +100 (a node's neo port) is free too.
free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % 50000))
    port_in_use "$p" || port_in_use $((p + 100)) || { echo "$p"; return; }
  done
}

busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# Waits (up to QUIET_MAX s) until the machine was idle (under 0.2 busy cores) for one second;
# returns 1 when it stayed busy.
wait_quiet() {
  local waited=0 a b
  while ((waited < ${QUIET_MAX:-60})); do
    a=$(busy_ticks); sleep 1; b=$(busy_ticks); waited=$((waited + 1))
    (((b - a) * 100 < 20 * $(getconf CLK_TCK))) && return 0
  done
  return 1
}

# jget FIELD JSON: one field of a flat JSON object.
jget() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

# say TEXT: to stderr and the log.
say() { echo "$*" | tee -a "$LOG" >&2; }

# wait_port PORT PID NAME [LOGFILE]: until PID listens on PORT (30 s); shows LOGFILE's tail if not.
wait_port() {
  for _ in $(seq 300); do
    port_in_use "$1" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  say "$3 (pid $2) does not listen on port $1$(kill -0 "$2" 2>/dev/null || echo ': it exited')"
  [[ -n "${4:-}" && -f "$4" ]] && tail -20 "$4" | tee -a "$LOG" >&2
  return 1
}

# rss PID: resident bytes.
rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
quiet() { wait_quiet || say "the machine stayed busy for $QUIET_MAX s; running anyway"; }
# bench ARGS...: runs swarm-bench ARGS --json after waiting for quiet, logs everything, prints
# the JSON.
bench() {
  local out
  quiet
  say "\$ swarm-bench $*"
  out=$("$BENCH" "$@" --json 2>>"$LOG") || { say "swarm-bench failed: $*"; echo 1 >>"$TMP/failed"; }
  echo "$out" >>"$LOG"
  echo "$out"
}

# --- the comparison table ------------------------------------------------------------------
add() { R[$1]="${R[$1]:-} $2"; }
# median "V1 V2 ...": the median of the numbers among them ("-" if none).
median() { { printf '%s\n' $1 | grep -E '^-?[0-9.]+([eE][-+]?[0-9]+)?$' || true; } | sort -g \
  | awk '{a[NR] = $1} END {if (!NR) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m() { median "${R[$1]:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }
check() { # check RATIO OP TARGET -> "yes" / "NO" / ""
  [[ -z "$3" || "$1" == "-" ]] && { echo ""; return; }
  awk -v r="$1" -v t="$3" -v op="$2" 'BEGIN {ok = (op == ">=") ? r >= t : r <= t; print ok ? "yes" : "NO"}'
}
fmt() { awk -v v="$1" 'BEGIN {if (v + 0 < 0 && v + 0 > -0.05) v = 0; if (v == "-" || v == "") print "-"; else if (v >= 1000) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v}'; }
line() { printf '| %-36s | %10s | %10s | %10s | %9s | %-11s | %9s | %-11s |\n' "$@"; }
paired() { # paired KEY_A KEY_B: median over rounds of A/B, each ratio taken within one round
  local -a a=(${R[$1]:-}) b=(${R[$2]:-})
  local i out=""
  for i in "${!a[@]}"; do
    out="$out $(ratio "${a[$i]:--}" "${b[$i]:--}")"
  done
  median "$out"
}
# row NAME KEY_NODE KEY_REDIS KEY_ECHO OP REDIS_TARGET ECHO_TARGET (keys of R; "-": none): the
# medians, and the medians of the per-round node/Redis and node/echo ratios against the targets.
row() {
  local rr re
  rr=$(paired "$2" "$3"); re=$(paired "$2" "$4")
  [[ $rr == "-" ]] || rr=$(printf '%.2f' "$rr"); [[ $re == "-" ]] || re=$(printf '%.2f' "$re")
  line "$1" "$(fmt "$(m "$2")")" "$(fmt "$(m "$3")")" "$(fmt "$(m "$4")")" "$rr" \
    "${6:+$5 $6 $(check "$rr" "$5" "$6")}" "$re" "${7:+$5 $7 $(check "$re" "$5" "$7")}"
}
# info NAME A B C: a row of figures without ratios.
info() { line "$1" "$(fmt "$2")" "$(fmt "$3")" "$(fmt "$4")" "" "" "" ""; }

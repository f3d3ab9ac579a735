# Shell helpers of the benchmark scripts (sourced, not run): the processes a script started and
# their cleanup, free ports on 127.0.0.1, waiting for the machine to be idle, and reading one
# field of swarm-bench's --json line.

PIDS=()
# Stops the processes in PIDS (the script's own, none other) and removes $TMP if set.
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
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

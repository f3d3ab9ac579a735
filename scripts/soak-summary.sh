#!/usr/bin/env bash
# The summary of a soak (scripts/soak.sh writes it with its own settings; run this to judge a
# kept soak.csv again with other margins), as markdown on stdout:
#
#   scripts/soak-summary.sh SOAK_CSV DRIVER_LOG [WARMUP_PCT RSS_PCT RSS_KIB FD_SLACK DRIVER_RC]
#
# Per process: RSS (KiB) and open fds at the start (t=0), at the end of warm-up (the first
# sample at or after WARMUP_PCT (20) % of the run), at the end and the max, and the verdict:
# "steady" when RSS at the end <= warm-up's * (1 + RSS_PCT (5) / 100) + RSS_KIB (4096) and fds
# at the end <= warm-up's + FD_SLACK (4); "GROWING" else; "DIED" when the process was gone at
# the end. Then the data dirs' sizes, and from DRIVER_LOG (swarm-soak's lines) the rates,
# errors and latencies per kind in the first and last interval and over the run. DRIVER_RC is
# the driver's exit code (0 when no operation failed).
#
# Exit codes: 0 every process steady and no operation failed; 1 otherwise; 2 usage.
set -euo pipefail
# shellcheck source=scripts/usage.sh
. "$(dirname "$0")/usage.sh"
usage_from_header "$0" "${1:-}"
[[ $# -ge 2 && $# -le 7 ]] || { echo "usage: soak-summary.sh SOAK_CSV DRIVER_LOG [WARMUP_PCT RSS_PCT RSS_KIB FD_SLACK DRIVER_RC]" >&2; exit 2; }
CSV=$1 LOG=$2
WARMUP_PCT=${3:-20} RSS_PCT=${4:-5} RSS_KIB=${5:-4096} FD_SLACK=${6:-4} DRIVER_RC=${7:-0}
[[ -s "$CSV" && -s "$LOG" ]] || { echo "soak-summary.sh: $CSV or $LOG is missing or empty" >&2; exit 1; }

awk -F, -v pct="$WARMUP_PCT" -v rpct="$RSS_PCT" -v rkib="$RSS_KIB" -v slack="$FD_SLACK" \
  -v drc="$DRIVER_RC" -v dlog="$LOG" '
function kv(line, v,   n, f, i, p) {
  delete v
  n = split(line, f, " ")
  for (i = 2; i <= n; i++) { p = index(f[i], "="); v[substr(f[i], 1, p - 1)] = substr(f[i], p + 1) }
}
NR == FNR {
  if (FNR > 1 && $1 + 0 > end) end = $1 + 0
  next
}
FNR == 1 { warm = int((end * pct + 99) / 100); next }
{
  t = $1 + 0; p = $2
  if (!(p in seen)) { seen[p] = 1; order[++np] = p }
  if (t == 0) { r0[p] = $4; f0[p] = $5; d0[p] = $6 }
  if (!(p in rw) && t >= warm) { rw[p] = $4; fw[p] = $5; dw[p] = $6; tw = (tw == "" || t < tw) ? t : tw }
  r1[p] = $4; f1[p] = $5; d1[p] = $6
  if ($4 + 0 > rmax[p]) rmax[p] = $4 + 0
  if ($5 + 0 > fmax[p]) fmax[p] = $5 + 0
}
END {
  if (!np) { print "soak-summary.sh: no samples in the CSV" > "/dev/stderr"; exit 1 }
  printf "### Soak summary\n\n"
  printf "%d s run, warm-up until the sample at t=%d s (%d %%). Steady: RSS at the end at most warm-up'\''s + %d %% + %d KiB, fds at the end at most warm-up'\''s + %d.\n\n", end, tw, pct, rpct, rkib, slack
  print "| process | RSS start | RSS warm-up | RSS end | RSS max | RSS end - warm-up | fds start | fds warm-up | fds end | fds max | verdict |"
  print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  grown = ""
  for (i = 1; i <= np; i++) {
    p = order[i]
    if (r1[p] == "") verdict = "DIED"
    else if (r1[p] > rw[p] * (1 + rpct / 100) + rkib || f1[p] > fw[p] + slack) verdict = "GROWING"
    else verdict = "steady"
    if (verdict != "steady") grown = grown " " p " " verdict
    printf "| %s | %s KiB | %s KiB | %s KiB | %d KiB | %+d KiB | %s | %s | %s | %d | %s |\n", p, r0[p], rw[p], r1[p], rmax[p], r1[p] - rw[p], f0[p], fw[p], f1[p], fmax[p], verdict
  }
  printf "\n| data dir | start | warm-up | end |\n|---|---:|---:|---:|\n"
  for (i = 1; i <= np; i++) {
    p = order[i]
    if (d1[p] != "") printf "| %s | %s KiB | %s KiB | %s KiB |\n", p, d0[p], dw[p], d1[p]
  }
  # The driver: first interval after t=0, last interval, and the run.
  while ((getline line < dlog) > 0) {
    if (line ~ /^t=/) { split(line, a, " "); t = substr(a[1], 3) + 0; if (t > 0 && first == "") first = line; if (t > 0) last = line; lastt = t; if (t > 0 && firstt == "") firstt = t }
    else if (line ~ /^total /) total = line
  }
  if (first == "" || total == "") { print "\nsoak-summary.sh: the driver log has no interval or no total line" > "/dev/stderr"; exit 1 }
  kv(first, F); kv(last, L); kv(total, T)
  printf "\n| kind | requests/s | errors | p50 first | p99 first | p50 last | p99 last | p50 run | p99 run | max run |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
  split("dht queue logfiles getall getrange churn", kinds, " ")
  errors = 0
  for (k = 1; k <= 6; k++) {
    n = kinds[k]
    errors += T[n "_err"]
    printf "| %s | %.2f | %d | %s us | %s us | %s us | %s us | %s us | %s us | %s us |\n", n, T[n "_req"] / end, T[n "_err"], F[n "_p50_us"], F[n "_p99_us"], L[n "_p50_us"], L[n "_p99_us"], T[n "_p50_us"], T[n "_p99_us"], T[n "_max_us"]
  }
  errors += T["listen_err"] + T["consume_err"]
  printf "\nStreams: %d Listen events (%d errors), %d of %d records pushed for Consume consumed (%d errors), %d GetAll/GetRange records read.\n", T["listen_events"], T["listen_err"], T["consumed"], T["consume_pushed"], T["consume_err"], T["stream_records"]
  verdict = grown == "" ? "steady" : "NOT STEADY:" grown
  if (errors != 0) verdict = verdict ", " errors " failed operations"
  else if (drc != 0) verdict = verdict ", the driver exited " drc
  printf "\n**Verdict: %s**\n", verdict
  exit (grown != "" || errors != 0 || drc != 0)
}' "$CSV" "$CSV"

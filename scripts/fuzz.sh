#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, cargo-fuzz on stable rustc with RUSTC_BOOTSTRAP=1) and
# runs each for SECONDS (or RUNS executions), then prints executions, exec/s, crashes and the
# crash files per target. Exits 1 if any target crashed. See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
usage: scripts/fuzz.sh [SECONDS] [--runs N] [--jobs J] [--sanitizer none|address] [TARGET...]

  SECONDS        how long each target runs (-max_total_time; default 60)
  --runs N       run each target for N executions instead (-runs=N; e.g. 10000000)
  --jobs J       targets run at the same time (default 1; each takes one core)
  --sanitizer S  none (default: safe Rust, 2-3x the executions) or address (ASan)
  --list         print the target names and exit
  TARGET...      only these targets (default: all of fuzz/fuzz_targets/)

Each target fuzzes with its seed corpus (fuzz/corpus/<target>/, committed) and its regression
inputs (fuzz/regressions/<target>/, committed) as starting points; new corpus entries go to
fuzz/target/corpus/<target>/ (not committed), logs to fuzz/target/logs/<target>.log, and crash
inputs to fuzz/artifacts/<target>/ (git-ignored). For a crash: fix the code, move the input to
fuzz/regressions/<target>/ with a name saying what broke, and `cargo test -p swarm-fuzz-checks`
replays it on stable from then on.
USAGE
}

seconds=60
runs=
jobs=1
sanitizer=none
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --runs) runs="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --sanitizer) sanitizer="$2"; shift 2 ;;
    --list) ls fuzz/fuzz_targets | sed 's/\.rs$//'; exit 0 ;;
    [0-9]*) seconds="$1"; shift ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz.sh: no target $t (--list)" >&2; exit 2; }
done
command -v cargo-fuzz >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo-fuzz" ] ||
  { echo "fuzz.sh: cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }

# cargo-fuzz passes -Z flags (sanitizer coverage, -Zsanitizer); RUSTC_BOOTSTRAP lets stable
# rustc take them. Release build with debug assertions and overflow checks (cargo-fuzz's default).
echo "== building ${#targets[@]} targets (sanitizer: $sanitizer)"
one=()
[ ${#targets[@]} -ne 1 ] || one=("${targets[0]}")
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build -s "$sanitizer" "${one[@]}")
bin=fuzz/target/x86_64-unknown-linux-gnu/release

if [ -n "$runs" ]; then limit=(-runs="$runs"); else limit=(-max_total_time="$seconds"); fi
mkdir -p fuzz/target/logs

# Per-target libFuzzer flags. config_files: the INI parse and the unknown-key hints cost about
# linear in the text (a few thousand executions a second at 4 KiB), and 256 bytes hold every
# section, key and value shape; the whole etc/ files go through the check in the corpus replay.
extra_flags() {
  case "$1" in
    config_files) echo "-max_len=256" ;;
  esac
}

run_one() {
  local t="$1"
  local extra
  read -r -a extra <<<"$(extra_flags "$t")"
  mkdir -p "fuzz/target/corpus/$t" "fuzz/artifacts/$t"
  # -timeout: a hang of 10 s counts as a crash; -rss_limit_mb: a run past 2 GiB does too (the
  # checks' own allocator refuses any single allocation over 40 MiB, see fuzz/checks).
  "$bin/$t" "${limit[@]}" "${extra[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" \
    "fuzz/target/corpus/$t" "fuzz/corpus/$t" "fuzz/regressions/$t" \
    >"fuzz/target/logs/$t.log" 2>&1
}

stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
running=0
for t in "${targets[@]}"; do
  if [ -n "$runs" ]; then echo "== $t ($runs runs)"; else echo "== $t ($seconds s)"; fi
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }
crashed=0
printf '\n| target | executions | seconds | exec/s | corpus | crashes | crash files |\n'
printf '|---|---:|---:|---:|---:|---:|---|\n'
for t in "${targets[@]}"; do
  log="fuzz/target/logs/$t.log"
  execs=$(stat number_of_executed_units "$log")
  rate=$(stat average_exec_per_sec "$log")
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  corpus=$(find "fuzz/target/corpus/$t" -type f | wc -l)
  mapfile -t new < <(find "fuzz/artifacts/$t" -type f -newer "$stamp" 2>/dev/null)
  if grep -q -E '^==[0-9]+== ERROR|^SUMMARY: libFuzzer|deadly signal' "$log"; then
    [ ${#new[@]} -gt 0 ] || new=("(see $log)")
  fi
  n=${#new[@]}
  [ "$n" -eq 0 ] || crashed=1
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" "${execs:-?}" "${secs:-?}" "${rate:-?}" \
    "$corpus" "$n" "${new[*]:-}"
done
if [ "$crashed" -ne 0 ]; then
  echo
  echo "fuzz.sh: crashes found. Reproduce one with: $bin/<target> <crash file>"
  echo "Fix the code, then move the file to fuzz/regressions/<target>/<what-broke> so the"
  echo "corpus replay (cargo test -p swarm-fuzz-checks) keeps it fixed."
  exit 1
fi

# Sourced by the benchmark scripts before anything else: `usage_from_header "$0" "${1:-}"`
# prints the script's header comment (its lines from the second to `set -euo pipefail`, without
# the leading `# `) and exits 0 when the argument is -h or --help.
usage_from_header() {
  case "$2" in
    -h | --help)
      sed -n '2,/^set -euo pipefail/p' "$1" | sed -n 's/^# \{0,1\}//p'
      exit 0
      ;;
  esac
}

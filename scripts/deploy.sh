#!/usr/bin/env bash
# Installs, upgrades, rolls back and shows one instance of a swarmnodes program
# (docs/OPERATIONS.md, "Deploying").
#
#   deploy.sh install  KIND INSTANCE [--root DIR] [--binary PATH] [--config FILE] [--port N]
#                      [--init systemd|upstart] [--no-service]
#   deploy.sh upgrade  KIND INSTANCE --binary PATH [--root DIR]
#   deploy.sh rollback KIND INSTANCE [--root DIR]
#   deploy.sh status   KIND INSTANCE [--root DIR]
#
# KIND is dhtnode, dhtdump, queuenode or logfilesnode; INSTANCE (letters, digits, _ and -) is
# the %i of the systemd units and the INSTANCE of the upstart jobs. Layout under ROOT (default /):
#   srv/<kind>/<kind>-<instance>/   the binary <kind>, etc/config.ini, data/, log/, versions/
#   srv/dhtnode/dhtnode-<instance>/dump/   dhtdump's: the binary dhtdump, etc/config.ini, log/,
#                                   versions/; it dumps into the node's data/ (data_dir = ../data)
# install: creates the service user and group swarm:swarm (useradd --system, with --prefix ROOT
#   when ROOT is not /), the directories, data/ and log/ owned by swarm; copies the binary
#   (--binary, default target/release/<kind>); writes etc/config.ini from --config FILE or the
#   example etc/<program>/config.ini, with [Server] port (dhtdump: [Dht] port, default its node's
#   port) set to --port, and never replaces a config.ini already there; installs the logrotate
#   rule as etc/logrotate.d/swarm-<kind> and, unless --no-service, the systemd unit
#   (etc/systemd/system/<kind>@.service) or, on a host without systemd (no ROOT/run/systemd/system)
#   or with --init upstart, the upstart jobs (etc/init/). On ROOT=/ with systemd it then runs
#   systemctl daemon-reload and enables the instance; it never starts it.
# upgrade: keeps the current binary as versions/<kind>-YYYYmmddTHHMMSS (UTC) and puts the new one
#   in place atomically (temp file, fsync, rename); restart the instance to run it.
# rollback: puts the newest versions/<kind>-<time> back the same way and keeps the binary it
#   replaces as versions/<kind>-<time>.rolled-back, which a later rollback skips (a second
#   rollback goes one version further back; undo one with upgrade --binary versions/...).
# status: the binary (sha256), the kept versions, the port, the service state.
# Exit codes: 0 done, 1 failed (the message names the path), 2 bad arguments.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/usage.sh
. "$here/usage.sh"
usage_from_header "$0" "${1:-}"
repo=$(dirname "$here")

SERVICE_USER=swarm
SERVICE_GROUP=swarm

die() { echo "deploy.sh: $*" >&2; exit 1; }
usage_error() { echo "deploy.sh: $* (see deploy.sh --help)" >&2; exit 2; }
say() { echo "deploy.sh: $*"; }

[ $# -ge 3 ] || usage_error "expected COMMAND KIND INSTANCE"
cmd=$1 kind=$2 instance=$3
shift 3
case "$cmd" in install | upgrade | rollback | status) ;; *) usage_error "unknown command '$cmd'" ;; esac
case "$kind" in
  dhtnode) example=dht ;;
  dhtdump) example=dhtdump ;;
  queuenode) example=queue ;;
  logfilesnode) example=logfiles ;;
  *) usage_error "unknown KIND '$kind' (dhtnode, dhtdump, queuenode or logfilesnode)" ;;
esac
[[ "$instance" =~ ^[A-Za-z0-9_-]+$ ]] || usage_error "bad INSTANCE '$instance' (letters, digits, _ and -)"

root=/ binary= config= port= init= service=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root | --binary | --config | --port | --init)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case "$1" in
        --root) root=$2 ;;
        --binary) binary=$2 ;;
        --config) config=$2 ;;
        --port) port=$2 ;;
        --init) init=$2 ;;
      esac
      shift 2
      ;;
    --no-service) service=0; shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
allowed() { # the options each command takes
  case "$cmd" in
    install) return 0 ;;
    upgrade) [ -z "$config$port$init" ] && [ "$service" = 1 ] ;;
    rollback | status) [ -z "$binary$config$port$init" ] && [ "$service" = 1 ] ;;
  esac
}
allowed || usage_error "$cmd takes only the options its usage line shows"
[ -z "$port" ] || [[ "$port" =~ ^[0-9]+$ && "$port" -le 65535 ]] || usage_error "bad --port '$port'"
case "$init" in "" | systemd | upstart) ;; *) usage_error "bad --init '$init' (systemd or upstart)" ;; esac
[ -d "$root" ] || die "root directory $root does not exist"
root=$(cd "$root" && pwd)
# Paths under ROOT: "$root" is "/" for the real system, so strip the trailing slash first.
prefix=${root%/}

bin=$kind
if [ "$kind" = dhtdump ]; then
  node_dir=$prefix/srv/dhtnode/dhtnode-$instance
  dir=$node_dir/dump
  unit=dhtdump@$instance
  jobs="dhtdump dhtdump-instance"
else
  dir=$prefix/srv/$kind/$kind-$instance
  unit=$kind@$instance
  case "$kind" in
    dhtnode) jobs="dht dhtnode-instance" ;;
    queuenode) jobs="queue queuenode-instance" ;;
    logfilesnode) jobs="logfiles logfilesnode-instance" ;;
  esac
fi
current=$dir/$bin

# The instance's binary: keeps an existing one as versions/<bin>-<time>[suffix] (a hard link,
# so the binary is in place at every moment) and renames a fsynced copy of $1 over it.
# $2 is appended to the kept name (".rolled-back" for rollback). Prints the kept name.
put_binary() {
  local src=$1 suffix=$2 tmp kept n=0 stamp
  tmp=$dir/.$bin.new.$$
  cp "$src" "$tmp" || die "cannot copy $src to $tmp"
  chmod 0755 "$tmp" || die "cannot chmod $tmp"
  sync "$tmp" || die "cannot fsync $tmp"
  kept=
  if [ -e "$current" ]; then
    stamp=$(date -u +%Y%m%dT%H%M%S)
    kept=$dir/versions/$bin-$stamp$suffix
    while [ -e "$kept" ]; do n=$((n + 1)); kept=$dir/versions/$bin-$stamp.$n$suffix; done
    ln "$current" "$kept" || { rm -f "$tmp"; die "cannot keep $current as $kept"; }
  fi
  mv -f "$tmp" "$current" || { rm -f "$tmp"; die "cannot rename $tmp to $current"; }
  sync "$dir" "$dir/versions" || die "cannot fsync $dir"
  echo "$kept"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# The entry of $2 in database $1 (passwd or group) of ROOT: through getent on / (users may come
# from NSS, not only the files), else from ROOT's file.
entry() {
  if [ "$root" = / ]; then getent "$1" "$2" || true; else grep "^$2:" "$prefix/etc/$1" || true; fi
}

# The user and group (created when missing), as uid:gid from ROOT's databases: chown by name
# would look them up in this host's, not ROOT's.
ensure_user() {
  local passwd=$prefix/etc/passwd group=$prefix/etc/group args=(--system)
  for f in "$passwd" "$group"; do
    [ -f "$f" ] || die "$f does not exist (useradd needs passwd, group, shadow and gshadow there)"
  done
  [ "$root" = / ] || args+=(--prefix "$root")
  if [ -z "$(entry group "$SERVICE_GROUP")" ]; then
    groupadd "${args[@]}" "$SERVICE_GROUP" || die "groupadd $SERVICE_GROUP failed (in $group)"
    say "created group $SERVICE_GROUP in $group"
  fi
  if [ -z "$(entry passwd "$SERVICE_USER")" ]; then
    useradd "${args[@]}" --gid "$SERVICE_GROUP" --home-dir /srv --no-create-home \
      --shell /usr/sbin/nologin --comment "swarmnodes services" "$SERVICE_USER" ||
      die "useradd $SERVICE_USER failed (in $passwd)"
    say "created user $SERVICE_USER in $passwd"
  fi
  owner=$(entry passwd "$SERVICE_USER" | cut -d: -f3):$(entry group "$SERVICE_GROUP" | cut -d: -f3)
  [[ "$owner" =~ ^[0-9]+:[0-9]+$ ]] || die "cannot read the ids of $SERVICE_USER:$SERVICE_GROUP ($passwd, $group)"
}

# Sets `key = value` in [section] of the config file $1; fails when the key is not there.
set_key() {
  local file=$1 section=$2 key=$3 value=$4 tmp=$1.tmp.$$
  awk -v s="[$section]" -v k="$key" -v v="$value" '
    /^\[/ { in_s = ($0 == s) }
    in_s && $0 ~ "^" k "[ \t]*=" { print k " = " v; done = 1; next }
    { print }
    END { exit done ? 0 : 1 }' "$file" >"$tmp" || { rm -f "$tmp"; die "$file: no [$section] $key to set"; }
  mv -f "$tmp" "$file"
}

# Reads `key` of [section] from the config file $1 (empty when absent).
get_key() {
  awk -v s="[$2]" -v k="$3" '
    /^\[/ { in_s = ($0 == s) }
    in_s && $0 ~ "^" k "[ \t]*=" { sub("^[^=]*=[ \t]*", ""); print; exit }' "$1"
}

install_config() {
  local target=$dir/etc/config.ini src=${config:-$repo/etc/$example/config.ini} p=$port
  if [ -e "$target" ]; then
    say "kept $target (never replaced)${port:+; --port $port not applied}"
    return
  fi
  [ -f "$src" ] || die "config $src does not exist"
  cp "$src" "$target.new" || die "cannot copy $src to $target.new"
  if [ "$kind" = dhtdump ]; then
    # dhtdump dumps its own node: its port unless --port says otherwise.
    [ -n "$p" ] || p=$(get_key "$node_dir/etc/config.ini" Server port)
    [ -z "$p" ] || set_key "$target.new" Dht port "$p"
  elif [ -n "$p" ]; then
    set_key "$target.new" Server port "$p"
  fi
  mv "$target.new" "$target" || die "cannot rename $target.new to $target"
  say "wrote $target from $src${p:+ (port $p)}"
}

# Copies $1 to $2 (a service or logrotate file, ours: replaced when it changed).
install_file() {
  mkdir -p "$(dirname "$2")" || die "cannot create $(dirname "$2")"
  if [ -f "$2" ] && cmp -s "$1" "$2"; then say "$2 is up to date"; return; fi
  cp "$1" "$2.new.$$" && chmod 0644 "$2.new.$$" && mv -f "$2.new.$$" "$2" ||
    die "cannot install $1 as $2"
  say "installed $2"
}

install_service() {
  if [ -z "$init" ]; then
    if [ -d "$prefix/run/systemd/system" ]; then init=systemd; else init=upstart; fi
  fi
  if [ "$init" = systemd ]; then
    install_file "$repo/etc/systemd/$kind@.service" "$prefix/etc/systemd/system/$kind@.service"
    if [ "$root" = / ] && [ -d /run/systemd/system ]; then
      systemctl daemon-reload || die "systemctl daemon-reload failed"
      systemctl enable "$unit.service" || die "systemctl enable $unit failed"
      say "enabled $unit; start it with: systemctl start $unit"
    else
      say "ROOT is not a running systemd: enable it there with: systemctl enable --now $unit"
    fi
  else
    for job in $jobs; do install_file "$repo/etc/init/$job.conf" "$prefix/etc/init/$job.conf"; done
    set -- $jobs
    say "upstart starts every instance at boot; now: start $2 INSTANCE=$instance"
  fi
}

do_install() {
  [ "$(id -u)" = 0 ] || die "install creates the user $SERVICE_USER and chowns data/ and log/: run it as root"
  local src=${binary:-$repo/target/release/$bin} d
  [ -f "$src" ] && [ -x "$src" ] || die "binary $src is not an executable file (give --binary PATH)"
  if [ "$kind" = dhtdump ] && [ ! -d "$node_dir/data" ]; then
    die "$node_dir/data does not exist: dhtdump dumps into its node's data/, install dhtnode $instance first"
  fi
  ensure_user
  for d in "$dir" "$dir/etc" "$dir/log" "$dir/versions"; do
    mkdir -p "$d" || die "cannot create $d"
  done
  [ "$kind" = dhtdump ] || mkdir -p "$dir/data" || die "cannot create $dir/data"
  if [ -e "$current" ] && cmp -s "$src" "$current"; then
    say "$current is up to date"
  else
    local kept
    kept=$(put_binary "$src" "")
    say "installed $current from $src${kept:+ (the previous one kept as $kept)}"
  fi
  install_config
  # The node writes below data/ and log/; the dht node also rewrites etc/config.ini (a
  # Redistribute's new range, through a temp file in etc/). The binary stays root's.
  local owned=("$dir/log")
  [ "$kind" = dhtdump ] || owned+=("$dir/data")
  [ "$kind" != dhtnode ] || owned+=("$dir/etc")
  chown -R "$owner" "${owned[@]}" || die "cannot chown ${owned[*]} to $owner"
  say "${owned[*]} owned by $SERVICE_USER:$SERVICE_GROUP ($owner)"
  install_file "$repo/etc/logrotate/$kind" "$prefix/etc/logrotate.d/swarm-$kind"
  if [ "$service" = 1 ]; then install_service; else say "--no-service: no unit or job installed"; fi
}

need_instance() {
  [ -f "$current" ] || die "$current does not exist: no $kind instance $instance under $root"
}

do_upgrade() {
  [ -n "$binary" ] || usage_error "upgrade needs --binary PATH"
  [ -f "$binary" ] && [ -x "$binary" ] || die "binary $binary is not an executable file"
  need_instance
  mkdir -p "$dir/versions" || die "cannot create $dir/versions"
  local kept
  kept=$(put_binary "$binary" "")
  say "upgraded $current to $binary ($(sha "$current")); the previous one is $kept"
  say "restart the instance to run it"
}

do_rollback() {
  need_instance
  local f newest=
  for f in "$dir/versions/$bin"-[0-9]*; do
    [ -f "$f" ] || continue
    case "$f" in *.rolled-back) continue ;; esac
    newest=$f # the glob sorts by name, so by time
  done
  [ -n "$newest" ] || die "no earlier binary in $dir/versions to roll back to"
  local kept
  kept=$(put_binary "$newest" .rolled-back)
  rm -f "$newest" || die "cannot remove $newest"
  say "rolled back $current to $newest ($(sha "$current")); the replaced one is $kept"
  say "restart the instance to run it; undo with: deploy.sh upgrade $kind $instance --binary $kept"
}

do_status() {
  need_instance
  local f conf=$dir/etc/config.ini
  echo "instance:  $kind $instance in $dir"
  echo "binary:    $current sha256 $(sha "$current")"
  for f in "$dir/versions/$bin"-*; do [ -f "$f" ] && echo "kept:      $f sha256 $(sha "$f")"; done
  if [ -f "$conf" ]; then
    if [ "$kind" = dhtdump ]; then
      echo "config:    $conf (dumps port $(get_key "$conf" Dht port))"
    else
      echo "config:    $conf (port $(get_key "$conf" Server port))"
    fi
  else
    echo "config:    $conf is missing"
  fi
  if [ "$root" != / ]; then
    echo "service:   not asked (ROOT is $root)"
  elif [ -d /run/systemd/system ]; then
    echo "service:   $unit $(systemctl is-active "$unit" || true)"
  elif command -v initctl >/dev/null 2>&1; then
    set -- $jobs
    echo "service:   $(initctl status "$2" INSTANCE="$instance" 2>&1 || true)"
  else
    echo "service:   no systemd or upstart here"
  fi
}

"do_$cmd"

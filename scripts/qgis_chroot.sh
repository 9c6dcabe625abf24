#!/usr/bin/env bash
# Cached Debian chroots with newer QGIS releases than the host's, for testing the plugin
# on them (the host, Debian 12, has QGIS 3.22).
#
#   scripts/qgis_chroot.sh build  SUITE
#   scripts/qgis_chroot.sh run    SUITE [--bind HOSTDIR:CHROOTDIR[:ro]]... -- COMMAND...
#   scripts/qgis_chroot.sh info   SUITE
#   scripts/qgis_chroot.sh path   SUITE
#   scripts/qgis_chroot.sh remove SUITE
#
# SUITE is one of:
#   trixie            Debian 13: QGIS 3.40 LTR, Python 3.13
#   trixie-backports  Debian 13 with QGIS 3.44 from trixie-backports (same Python/GDAL)
#   sid               Debian unstable: QGIS 3.44 today, Python 3.14, newer GDAL
#
# Environment:
#   SITS_CHROOT_DIR       where chroots live (default /var/cache/sits-qgis/chroots);
#                         each one is SITS_CHROOT_DIR/SUITE.
#   SITS_CHROOT_ENV       space-separated names of host variables to pass into `run`.
#   SITS_CHROOT_MIRROR    Debian mirror (default http://deb.debian.org/debian).
#   SITS_CHROOT_SECURITY_MIRROR  (default http://deb.debian.org/debian-security;
#                         empty: no security suite).
#   SITS_CHROOT_EXTRA_PACKAGES   space-separated extra Debian packages for `build`.
#   SITS_CHROOT_UNSHARE   1 (default) runs each chroot session in a private mount
#                         namespace when the kernel allows it; 0 never does.
#   SITS_CHROOT_KEEP_FAILED  1 keeps the temporary folder of a failed build.
#   SITS_CHROOT_VERBOSE   1 names the host variables not passed into `run` because a
#                         path they hold does not exist in the chroot.
#
# How it stays safe:
#   - A build happens in SITS_CHROOT_DIR/.SUITE.build.PID and is renamed to SUITE only
#     once complete, with its stamp file written: an interrupted build never looks done.
#   - `run` mounts /proc, /sys, /dev, /dev/pts, /dev/shm and the --bind folders, and
#     unmounts them in an EXIT trap (reverse order, lazy unmount as the fallback), also
#     when the command fails or is interrupted. On top of that, the session runs in its
#     own mount namespace (unshare): the host never sees these mounts at all, and the
#     kernel drops them even if this script is killed with SIGKILL.
#   - Mounts left under a chroot by a crashed earlier session are unmounted before a new
#     session starts (it refuses to start if that fails).
#   - Nothing is deleted while /proc/self/mountinfo shows a mount inside the folder, and
#     deletion uses `rm --one-file-system`. A lock (flock) per suite keeps `build` and
#     `remove` away from running sessions; sessions can run side by side.
set -euo pipefail

readonly BASE=${SITS_CHROOT_DIR:-/var/cache/sits-qgis/chroots}
readonly MIRROR=${SITS_CHROOT_MIRROR:-http://deb.debian.org/debian}
readonly SECURITY_MIRROR=${SITS_CHROOT_SECURITY_MIRROR-http://deb.debian.org/debian-security}
readonly STAMP=.sits-qgis-chroot.stamp   # at the root of a finished chroot
readonly CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SELF=$(readlink -f "${BASH_SOURCE[0]}")
readonly SELF

# What a chroot gets. Beyond the QGIS packages: python3-venv/pip for
# `python3 -m venv --system-site-packages` + pip (Debian's python3-pip-whl comes with
# python3-venv), xvfb + xauth for xvfb-run (GUI tests), fonts for Qt's offscreen
# rendering, tzdata for zoneinfo, procps for ps/kill in tests, make/git for the repo.
readonly PACKAGES=(
  qgis python3-qgis qgis-providers
  python3-venv python3-pip python3-gdal gdal-bin
  xvfb xauth fonts-dejavu-core
  make git ca-certificates tzdata procps
)

die() { echo "qgis_chroot: error: $*" >&2; exit 1; }
note() { echo "qgis_chroot: $*" >&2; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF" >&2
  exit 2
}

# ---------------------------------------------------------------------------------------
# Suites

# Sets DIST (what debootstrap installs), SOURCES (deb822 text for apt) and TARGET (the
# release the QGIS packages come from, for `apt-get -t`; empty for the default).
suite_config() {
  local suite=$1 main="Types: deb
URIs: $MIRROR
Components: main
Suites:"
  local security=""
  TARGET=""
  case $suite in
    trixie|trixie-backports)
      DIST=trixie
      if [ -n "$SECURITY_MIRROR" ]; then
        security="

Types: deb
URIs: $SECURITY_MIRROR
Components: main
Suites: trixie-security"
      fi
      if [ "$suite" = trixie-backports ]; then
        SOURCES="$main trixie trixie-updates trixie-backports$security"
        TARGET=trixie-backports
      else
        SOURCES="$main trixie trixie-updates$security"
      fi
      ;;
    sid)
      DIST=sid
      SOURCES="$main sid"
      ;;
    *) die "unknown suite '$suite' (trixie, trixie-backports or sid)" ;;
  esac
}

# ---------------------------------------------------------------------------------------
# Mount bookkeeping

# Mount points at or below $1 as the kernel lists them, deepest first (a parent path
# sorts before its children, so the reverse order unmounts children first).
mounts_under() {
  local root=$1
  awk -v r="$root" '{ p = $5; gsub(/\\040/, " ", p)
                      if (p == r || index(p, r "/") == 1) print p }' /proc/self/mountinfo |
    LC_ALL=C sort -r -u
}

# Unmount everything at or below $1 (stacked mounts too); lazy unmount as the fallback.
# Fails if something is still mounted afterwards.
unmount_under() {
  local root=$1 pass m left
  for pass in 1 2 3 4 5 6 7 8; do
    left=$(mounts_under "$root")
    [ -z "$left" ] && return 0
    while IFS= read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done <<<"$left"
    [ "$pass" -ge 2 ] && sleep 0.5
  done
  left=$(mounts_under "$root")
  [ -z "$left" ] && return 0
  echo "qgis_chroot: error: still mounted under $root:" >&2
  echo "$left" >&2
  return 1
}

# Delete a chroot folder: only below $BASE, only when nothing is mounted inside it.
safe_remove() {
  local dir base
  dir=$(realpath -e -- "$1") || return 0
  base=$(realpath -m -- "$BASE")
  case $dir in
    "$base"/?*) ;;
    *) die "refusing to delete '$dir': not inside $base" ;;
  esac
  unmount_under "$dir" || die "refusing to delete $dir while something is mounted in it"
  [ -z "$(mounts_under "$dir")" ] || die "refusing to delete $dir: mounts inside"
  rm -rf --one-file-system -- "$dir"
}

# ---------------------------------------------------------------------------------------
# Locking: one lock file per suite, next to (not inside) the chroot. `run` takes it
# shared when sessions live in private mount namespaces (they cannot disturb each
# other), exclusive otherwise; `build` and `remove` take it exclusive.

take_lock() {
  local suite=$1 mode=$2 lockfile
  mkdir -p "$BASE"
  lockfile=$BASE/.$suite.lock
  exec 9>>"$lockfile"
  if ! flock -n "-$mode" 9; then
    note "waiting for another session on $suite ($lockfile)"
    flock "-$mode" 9
  fi
}

use_unshare() {
  [ "${SITS_CHROOT_UNSHARE:-1}" = 1 ] || return 1
  command -v unshare >/dev/null || return 1
  unshare --mount --propagation private -- true 2>/dev/null
}

# ---------------------------------------------------------------------------------------
# Entering a chroot

# enter ROOT [--bind H:C[:ro]]... -- COMMAND...: runs COMMAND inside ROOT with the
# mounts, in a private mount namespace when possible; returns COMMAND's exit code.
# The session is always a new bash process: `set -e` stays in force there even when the
# caller tests the result (`enter ... || rc=$?` would switch it off in a subshell).
enter() {
  if use_unshare; then
    unshare --mount --propagation private -- bash "$SELF" __session "$@"
  else
    bash "$SELF" __session "$@"
  fi
}

MOUNTED=()

# Records a mount point so that the EXIT trap unmounts it; keeps it from propagating.
do_mount() {
  local target=${*: -1}
  mount "$@"
  MOUNTED+=("$target")
  mount --make-private "$target"
}

session_cleanup() {
  local rc=$? i
  trap - EXIT INT TERM HUP
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
  done
  # Also whatever the command itself mounted inside the chroot.
  if ! unmount_under "$SESSION_ROOT"; then
    echo "qgis_chroot: error: mounts left behind under $SESSION_ROOT" >&2
    [ "$rc" -eq 0 ] && rc=70
  fi
  exit "$rc"
}

# Does every absolute path (or file:// URL) in VALUE exist inside the chroot? Host paths
# that the chroot lacks (e.g. PIP_FIND_LINKS=/opt/wheels) would only make pip complain.
paths_exist_in() {
  local root=$1 value=$2 tok p toks
  read -r -a toks <<<"$value"
  for tok in "${toks[@]}"; do
    case $tok in
      file://*) p=${tok#file://} ;;
      /*) p=$tok ;;
      *) continue ;;
    esac
    [ -e "$root$p" ] || return 1
  done
  return 0
}

# The command's environment: a clean one, plus the host's proxy, pip and CA bundle
# variables (when the paths they name exist in the chroot), plus SITS_CHROOT_ENV.
session_env() {
  local root=$1 name
  ENVIRONMENT=(HOME=/root "PATH=$CHROOT_PATH" LANG=C.UTF-8)
  local names=(http_proxy https_proxy ftp_proxy no_proxy all_proxy
               HTTP_PROXY HTTPS_PROXY FTP_PROXY NO_PROXY ALL_PROXY
               SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE GIT_SSL_CAINFO)
  while IFS= read -r name; do names+=("$name"); done < <(compgen -e | grep '^PIP_' || true)
  local skipped=()
  for name in "${names[@]}"; do
    [ -n "${!name+x}" ] || continue
    if paths_exist_in "$root" "${!name}"; then
      ENVIRONMENT+=("$name=${!name}")
    else
      skipped+=("$name")
    fi
  done
  # (On the development machines PIP_FIND_LINKS=/opt/wheels is dropped this way.)
  if [ ${#skipped[@]} -gt 0 ] && [ "${SITS_CHROOT_VERBOSE:-0}" = 1 ]; then
    note "not passed (path missing in the chroot): ${skipped[*]}"
  fi
  # Explicitly requested: passed as they are.
  local requested
  read -r -a requested <<<"${SITS_CHROOT_ENV:-}"
  for name in "${requested[@]}"; do
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "SITS_CHROOT_ENV: bad name '$name'"
    [ -n "${!name+x}" ] && ENVIRONMENT+=("$name=${!name}")
  done
  return 0
}

# The session proper (in the private namespace when there is one).
session() {
  local root=$1; shift
  local binds=()
  while [ $# -gt 0 ]; do
    case $1 in
      --bind) binds+=("$2"); shift 2 ;;
      --) shift; break ;;
      *) die "internal: bad session argument '$1'" ;;
    esac
  done
  [ $# -gt 0 ] || die "no command given"
  SESSION_ROOT=$root
  trap session_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP

  do_mount -t proc proc "$root/proc"
  do_mount -t sysfs sysfs "$root/sys"
  do_mount --bind /dev "$root/dev"
  do_mount --bind /dev/pts "$root/dev/pts"
  # A fresh tmpfs, not the host's: multiprocessing needs a writable /dev/shm (POSIX
  # semaphores), and whatever the command leaves there goes away with the session.
  do_mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"

  local spec host inner opt target
  for spec in "${binds[@]}"; do
    IFS=: read -r host inner opt <<<"$spec"
    # The target must stay inside the chroot (no symlink leading out of it): resolve
    # first, then create.
    target=$(realpath -m -- "$root$inner")
    case $target in
      "$root"/?*) ;;
      *) die "bind target $inner resolves to $target, outside the chroot" ;;
    esac
    mkdir -p -- "$target"
    do_mount --bind "$host" "$target"
    [ "$opt" = ro ] && mount -o remount,bind,ro "$target"
  done

  # Name resolution as on the host (replace, never write through a symlink).
  local f
  for f in resolv.conf hosts; do
    [ -f "/etc/$f" ] && cp --remove-destination -- "/etc/$f" "$root/etc/$f"
  done

  session_env "$root"
  local rc=0
  chroot "$root" /usr/bin/env -i "${ENVIRONMENT[@]}" "$@" 9>&- || rc=$?
  exit "$rc"   # the EXIT trap unmounts and keeps this code
}

# Parses "--bind HOSTDIR:CHROOTDIR[:ro]" options up to "--"; fills BIND_ARGS.
parse_binds() {
  BIND_ARGS=()
  local spec host inner opt
  while [ $# -gt 0 ]; do
    case $1 in
      --bind)
        [ $# -ge 2 ] || die "--bind needs HOSTDIR:CHROOTDIR"
        spec=$2
        IFS=: read -r host inner opt <<<"$spec"
        { [ -n "$host" ] && [ -n "$inner" ]; } || die "bad --bind '$spec' (HOSTDIR:CHROOTDIR[:ro])"
        [ -z "$opt" ] || [ "$opt" = ro ] || die "bad --bind option '$opt' (only ro)"
        [[ $inner == /* ]] || die "chroot folder '$inner' must be absolute"
        [[ /$inner/ != */../* ]] || die "chroot folder '$inner' must not contain .."
        [ "$inner" != / ] || die "cannot bind over the chroot's /"
        host=$(realpath -e -- "$host") || die "no such host folder: ${spec%%:*}"
        [ -d "$host" ] || die "not a folder: $host"
        BIND_ARGS+=(--bind "$host:$inner${opt:+:$opt}")
        shift 2
        ;;
      --) return 0 ;;
      *) die "expected --bind or -- before the command, got '$1'" ;;
    esac
  done
  die "missing '--' before the command"
}

chroot_root() { realpath -m -- "$BASE/$1"; }

is_built() { [ -f "$1/$STAMP" ]; }

# ---------------------------------------------------------------------------------------
# Commands

cmd_run() {
  local suite=$1; shift
  suite_config "$suite"
  local root; root=$(chroot_root "$suite")
  is_built "$root" || die "$suite is not built: $SELF build $suite"
  parse_binds "$@"
  while [ "$1" != -- ]; do shift; done
  shift
  [ $# -gt 0 ] || die "no command given after --"
  if use_unshare; then take_lock "$suite" s; else take_lock "$suite" x; fi
  # Under the lock, a mount the host can see under the chroot is a leftover of a crashed
  # session (sessions in namespaces are invisible here; others hold the lock exclusively).
  if [ -n "$(mounts_under "$root")" ]; then
    note "unmounting leftovers of an earlier session under $root"
    unmount_under "$root" || die "cannot clean up old mounts under $root; not starting"
  fi
  local rc=0
  enter "$root" "${BIND_ARGS[@]}" -- "$@" || rc=$?
  return "$rc"
}

cmd_info() {
  local root; root=$(chroot_root "$1")
  is_built "$root" || die "$1 is not built ($root)"
  cat "$root/$STAMP"
}

cmd_remove() {
  local suite=$1 root
  suite_config "$suite"
  root=$(chroot_root "$suite")
  take_lock "$suite" x
  local d
  for d in "$root" "$BASE/.$suite".build.*; do
    [ -e "$d" ] || continue
    note "removing $d"
    safe_remove "$d"
  done
}

BUILD_DIR=""
build_cleanup() {
  local rc=$?
  trap - EXIT
  if [ -n "$BUILD_DIR" ] && [ -e "$BUILD_DIR" ]; then
    unmount_under "$BUILD_DIR" || true
    if [ "${SITS_CHROOT_KEEP_FAILED:-0}" = 1 ]; then
      note "build failed; kept $BUILD_DIR"
    else
      note "build failed; removing $BUILD_DIR"
      safe_remove "$BUILD_DIR" || true
    fi
  fi
  exit "$rc"
}

# Versions for the stamp, printed as key=value by Python inside the chroot.
read -r -d '' PROBE <<'EOF' || true
import platform, sys
import numpy, pyproj
from osgeo import gdal, osr
from qgis.core import Qgis
from qgis.PyQt.QtCore import QT_VERSION_STR, PYQT_VERSION_STR
print(f"qgis={Qgis.QGIS_VERSION}")
print(f"python={platform.python_version()}")
print(f"numpy={numpy.__version__}")
print(f"gdal={gdal.__version__}")
print("proj=%d.%d.%d" % (osr.GetPROJVersionMajor(), osr.GetPROJVersionMinor(),
                         osr.GetPROJVersionMicro()))
print(f"pyproj={pyproj.__version__}")
print(f"qt={QT_VERSION_STR}")
print(f"pyqt={PYQT_VERSION_STR}")
EOF

cmd_build() {
  local suite=$1
  suite_config "$suite"
  local root; root=$(chroot_root "$suite")
  # A finished chroot only ever appears complete (renamed into place with its stamp), so
  # this needs no lock and does not wait for sessions running in it.
  if is_built "$root"; then
    cat "$root/$STAMP"
    return 0
  fi
  take_lock "$suite" x
  if is_built "$root"; then   # built by someone else while we waited
    note "$suite is already built in $root"
    cat "$root/$STAMP"
    return 0
  fi
  [ ! -e "$root" ] || die "$root exists but has no stamp; remove it first: $SELF remove $suite"
  local old
  for old in "$BASE/.$suite".build.*; do
    [ -e "$old" ] || continue
    note "removing the leftover of an interrupted build: $old"
    safe_remove "$old"
  done

  local started; started=$(date +%s)
  if ! command -v debootstrap >/dev/null; then
    note "installing debootstrap on the host"
    apt-get install -y --no-install-recommends debootstrap ||
      { apt-get update && apt-get install -y --no-install-recommends debootstrap; }
  fi

  local tmp=$BASE/.$suite.build.$$
  BUILD_DIR=$tmp
  trap build_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  mkdir -p "$tmp"
  tmp=$(realpath -e -- "$tmp")
  BUILD_DIR=$tmp

  note "debootstrap $DIST into $tmp"
  debootstrap --variant=minbase "$DIST" "$tmp" "$MIRROR"

  # apt inside: our sources; no Valid-Until check (the mirror here served an expired
  # sid Release file; backports' Release is only valid for a week); the host's apt proxy
  # settings, if any; no services started by package scripts.
  rm -f "$tmp/etc/apt/sources.list"
  printf '%s\n' "$SOURCES" >"$tmp/etc/apt/sources.list.d/debian.sources"
  cat >"$tmp/etc/apt/apt.conf.d/90sits-chroot" <<'EOF'
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
APT::Install-Recommends "false";
EOF
  apt-config dump | grep -i '::proxy' >"$tmp/etc/apt/apt.conf.d/91sits-proxy" || true
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 755 "$tmp/usr/sbin/policy-rc.d"

  # The host's extra CA certificates: HTTPS (pip) goes through an intercepting proxy
  # whose CA only these files hold. ca-certificates' update-ca-certificates adds them to
  # /etc/ssl/certs/ca-certificates.crt, which Debian's pip/requests/certifi use.
  mkdir -p "$tmp/usr/local/share/ca-certificates"
  local crt
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$crt" ] && cp -- "$crt" "$tmp/usr/local/share/ca-certificates/"
  done
  # The host's system-wide pip configuration (cert=..., timeouts). Not the user one
  # (/root/.config/pip): its find-links/extra-index-url point at local folders of
  # Python 3.11 wheels, which Python 3.13/3.14 cannot install.
  [ -f /etc/pip.conf ] && cp -- /etc/pip.conf "$tmp/etc/pip.conf"

  local extra=()
  read -r -a extra <<<"${SITS_CHROOT_EXTRA_PACKAGES:-}"
  local target_opt=()
  [ -n "$TARGET" ] && target_opt=(-t "$TARGET")
  note "apt-get install ${PACKAGES[*]} ${extra[*]}${TARGET:+ (QGIS from $TARGET)}"
  enter "$tmp" -- sh -c 'apt-get update && apt-get install -y --no-install-recommends "$@"' \
    sh "${target_opt[@]}" "${PACKAGES[@]}" "${extra[@]}"
  enter "$tmp" -- update-ca-certificates
  enter "$tmp" -- apt-get clean

  note "checking QGIS inside"
  local versions
  versions=$(enter "$tmp" -- env QT_QPA_PLATFORM=offscreen python3 -c "$PROBE")
  enter "$tmp" -- test -x /usr/bin/qgis_process
  {
    echo "suite=$suite"
    echo "debian=$(cat "$tmp/etc/debian_version")"
    echo "$versions"
    echo "packages=${PACKAGES[*]}${extra[*]:+ ${extra[*]}}"
    echo "build_seconds=$(($(date +%s) - started))"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$tmp/$STAMP"

  unmount_under "$tmp" || die "mounts left in $tmp"
  mv -T -- "$tmp" "$root"
  BUILD_DIR=""
  trap - EXIT INT TERM HUP
  note "built $suite in $root ($(du -sh "$root" | cut -f1))"
  cat "$root/$STAMP"
}

# ---------------------------------------------------------------------------------------

main() {
  [ $# -ge 1 ] || usage
  local cmd=$1; shift
  case $cmd in
    __session) session "$@" ;;   # internal: inside the private mount namespace
    -h|--help|help) usage ;;
  esac
  [ $# -ge 1 ] || usage
  [ "$(id -u)" = 0 ] || [ "$cmd" = info ] || [ "$cmd" = path ] ||
    die "needs root (debootstrap, mount, chroot)"
  local suite=$1; shift
  suite_config "$suite"
  case $cmd in
    build)  [ $# -eq 0 ] || usage; cmd_build "$suite" ;;
    run)    cmd_run "$suite" "$@" ;;
    info)   cmd_info "$suite" ;;
    path)   chroot_root "$suite" ;;
    remove) [ $# -eq 0 ] || usage; cmd_remove "$suite" ;;
    *) usage ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# Installs ringway, service1 and service2 as systemd services on this host (bare metal/VM):
# binaries to /usr/local/bin, units to /etc/systemd/system, config to /etc/ringway/ringway.yaml
# (an existing config is kept; the shipped one is placed beside it as ringway.yaml.dist).
# Idempotent. Without a running systemd (containers, chroots) it installs the files only.
#
# Usage: deploy/systemd/install.sh [--bin-dir DIR] [--config FILE] [--no-start] [--destdir DIR]
#        deploy/systemd/install.sh --uninstall [--purge] [--destdir DIR]
#   --bin-dir DIR   where the built binaries are (default: build/bin in the repository)
#   --config FILE   config to install when none exists (default: deploy/ringway.yaml)
#   --no-start      install and enable, but do not (re)start the services
#   --destdir DIR   stage everything under DIR (packaging, tests); never touches systemd
#   --uninstall     stop, disable and remove units and binaries; --purge also removes /etc/ringway
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin_dir=$repo/build/bin
config_src=$repo/deploy/ringway.yaml
destdir=""
action=install
purge=0
start=1
units=(service1.service service2.service ringway.service)
programs=(ringway service1 service2)

die() { echo "install.sh: $*" >&2; exit 1; }
# The header comment above, without the "# ".
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift ;;
    --config) config_src=${2:?--config needs a file}; shift ;;
    --destdir) destdir=${2:?--destdir needs a directory}; shift ;;
    --no-start) start=0 ;;
    --uninstall) action=uninstall ;;
    --purge) purge=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
  shift
done

prefix_bin=$destdir/usr/local/bin
unit_dir=$destdir/etc/systemd/system
conf_dir=$destdir/etc/ringway

[[ -n $destdir || $(id -u) == 0 ]] || die "must run as root (or use --destdir)"

# systemd is only driven for a real install on a host where it is PID 1.
have_systemd=0
if [[ -z $destdir && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
  have_systemd=1
fi

if [[ $action == uninstall ]]; then
  if [[ $have_systemd == 1 ]]; then
    # Reverse order: stop the proxy before its backends.
    for ((i = ${#units[@]} - 1; i >= 0; i--)); do
      systemctl disable --now "${units[i]}" 2>/dev/null || true
    done
  fi
  for u in "${units[@]}"; do rm -f "$unit_dir/$u"; done
  for p in "${programs[@]}"; do rm -f "$prefix_bin/$p"; done
  if [[ $purge == 1 ]]; then
    rm -rf "$conf_dir"
  elif [[ -d $conf_dir ]]; then
    echo "install.sh: kept $conf_dir (use --purge to remove it)"
  fi
  if [[ $have_systemd == 1 ]]; then systemctl daemon-reload; systemctl reset-failed "${units[@]}" 2>/dev/null || true; fi
  echo "install.sh: uninstalled"
  exit 0
fi

for p in "${programs[@]}"; do
  [[ -x $bin_dir/$p ]] || die "$bin_dir/$p not found: build first (cmake -S . -B build && cmake --build build) or pass --bin-dir"
done
[[ -f $config_src ]] || die "config $config_src not found"
for u in "${units[@]}"; do [[ -f $here/$u ]] || die "unit file $here/$u missing"; done

# Refuse a config the binary we are installing would reject.
"$bin_dir/ringway" --check-config "$config_src" >/dev/null || die "$config_src does not pass ringway --check-config"

install -d -m 0755 "$prefix_bin" "$unit_dir" "$conf_dir"
for p in "${programs[@]}"; do
  # install(1) writes a new inode, so a running binary is replaced safely.
  install -m 0755 "$bin_dir/$p" "$prefix_bin/$p"
done
for u in "${units[@]}"; do install -m 0644 "$here/$u" "$unit_dir/$u"; done

# Config: world-readable (the services run as a DynamicUser), never overwrite local edits.
if [[ ! -e $conf_dir/ringway.yaml ]]; then
  install -m 0644 "$config_src" "$conf_dir/ringway.yaml"
  echo "install.sh: installed $conf_dir/ringway.yaml"
elif ! cmp -s "$config_src" "$conf_dir/ringway.yaml"; then
  install -m 0644 "$config_src" "$conf_dir/ringway.yaml.dist"
  echo "install.sh: kept your $conf_dir/ringway.yaml; the shipped one is $conf_dir/ringway.yaml.dist"
fi

if [[ $have_systemd == 0 ]]; then
  echo "install.sh: files installed${destdir:+ under $destdir}; systemd is not running here, so nothing was enabled or started"
  exit 0
fi

systemctl daemon-reload
systemctl enable "${units[@]}" >/dev/null
if [[ $start == 1 ]]; then
  # restart, not start: a re-install must run the new binaries.
  systemctl restart service1.service service2.service
  systemctl restart ringway.service
  sleep 1
  failed=0
  for u in "${units[@]}"; do
    if systemctl is-active --quiet "$u"; then
      echo "install.sh: $u active"
    else
      echo "install.sh: $u is NOT active:" >&2
      systemctl --no-pager --lines=20 status "$u" >&2 || true
      failed=1
    fi
  done
  [[ $failed == 0 ]] || die "some services failed to start (journalctl -u ringway -u service1 -u service2)"
fi
echo "install.sh: done. Proxy on :8080, admin on 127.0.0.1:9901; reload with: systemctl reload ringway"

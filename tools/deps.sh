#!/bin/sh
# Install every Debian 12 package spliced needs to build, test, benchmark and demo.
# Idempotent: prints nothing and changes nothing when everything is already there.
set -eu

PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libevent-dev libcjson-dev
libcurl4-openssl-dev pkg-config curl ca-certificates iproute2 procps psmisc
wrk haproxy nginx-light docker.io busybox-static jq chromium prometheus"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'make deps' as root (it uses apt-get)" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
log=$(mktemp)
# shellcheck disable=SC2086
if ! { apt-get -o DPkg::Lock::Timeout=120 update -qq &&
       apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps: apt-get failed (see above)" >&2
	rm -f "$log"
	exit 1
fi
rm -f "$log"
# nginx and haproxy are benchmark peers started with their own configs: if installing
# them just started the packages' default instances, stop those (and only those).
for svc in nginx haproxy; do
	case " $missing " in *" $svc"*)
		[ -f /run/$svc.pid ] && kill "$(cat /run/$svc.pid)" 2>/dev/null || true ;;
	esac
done
echo "deps: done"

#!/bin/bash
# make image: container images of spliced and of the whoami test backend, built without a
# registry or a base image. Each image holds one binary, the shared libraries it links (as
# ldd resolves them on this machine, the loader included) and nothing else; `docker import`
# turns that file tree into an image whose entry point is the binary, so a stack file's
# `command:` becomes its arguments. deploy/Dockerfile builds the same spliced image for
# users who have a registry and a base image at hand.
#
#   tools/image.sh [--spliced NAME:TAG] [--whoami NAME:TAG]   build (defaults below)
#   tools/image.sh --rm [--spliced NAME:TAG] [--whoami NAME:TAG]   remove those two tags
#
# Images carry the label spliced.image=spliced|whoami so that tools can tell them apart
# from images they did not make. Needs the binaries ($BUILD/spliced, $BUILD/tools/whoami:
# run make) and a running dockerd.
set -eu
cd "$(dirname "$0")/.."
B=${BUILD:-build}
DOCKER=${DOCKER:-/usr/bin/docker}	# Debian's client; a newer one may sit earlier in PATH
SPLICED_IMAGE=${SPLICED_IMAGE:-spliced:latest}
WHOAMI_IMAGE=${WHOAMI_IMAGE:-spliced-whoami:latest}
remove=0

while [ $# -gt 0 ]; do
	case $1 in
	--spliced) SPLICED_IMAGE=$2; shift 2 ;;
	--whoami) WHOAMI_IMAGE=$2; shift 2 ;;
	--rm) remove=1; shift ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "image: unknown argument '$1' (see tools/image.sh --help)" >&2; exit 2 ;;
	esac
done

[ -x "$DOCKER" ] || DOCKER=$(command -v docker || true)
if [ -z "$DOCKER" ]; then
	echo "image: no docker client: install docker.io (make deps)" >&2
	exit 1
fi
if ! "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	echo "image: dockerd does not answer on /var/run/docker.sock: start it (make demo does)" >&2
	exit 1
fi

if [ $remove = 1 ]; then
	for img in "$SPLICED_IMAGE" "$WHOAMI_IMAGE"; do
		"$DOCKER" image rm "$img" >/dev/null 2>&1 && echo "image: removed $img"
	done
	exit 0
fi

# Libraries a dynamic binary loads, loader included (mawk has no \s: match on fields).
ldd_libs() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'; }

tmp=$(mktemp -d /tmp/spliced-image.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# make_image BINARY NAME-IN-IMAGE IMAGE KIND ENTRYPOINT-JSON CMD-JSON
make_image() {
	local bin=$1 name=$2 img=$3 kind=$4 entry=$5 cmd=$6 root=$tmp/$4 f
	if [ ! -x "$bin" ]; then
		echo "image: $bin is missing: run make first" >&2
		return 1
	fi
	mkdir -p "$root"
	cp -L "$bin" "$root/$name"
	for f in $(ldd_libs "$bin"); do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
	tar -C "$root" --owner=0 --group=0 -c . |
		"$DOCKER" import --change "ENTRYPOINT $entry" --change "CMD $cmd" \
			--change "LABEL spliced.image=$kind" \
			--message "tools/image.sh: $name and its libraries" - "$img" >/dev/null
	printf 'image: %-28s %s, %s MB, %d files\n' "$img" \
		"$("$DOCKER" image inspect -f '{{.Id}}' "$img" | cut -c8-19)" \
		"$(( $("$DOCKER" image inspect -f '{{.Size}}' "$img") / 1000000 ))" \
		"$(find "$root" -type f | wc -l)"
}

# Without a command, spliced starts with the seed's flags (deploy/Dockerfile says the same).
make_image "$B/spliced" spliced "$SPLICED_IMAGE" spliced '["/spliced"]' \
	'["--api", "--docker", "--docker.swarmMode", "--docker.exposedbydefault=false"]'
make_image "$B/tools/whoami" whoami "$WHOAMI_IMAGE" whoami '["/whoami", "--port", "80"]' '[]'

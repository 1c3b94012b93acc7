# shellcheck shell=bash
# tools/dockerd-host.bash: what starting our own dockerd changes on the host, and undoing it.
# Sourced by tools/demo.sh (make demo / demo-clean) and tests/swarm/lib_swarm.sh, which both
# start a dockerd only when none answers, and must leave the host as they found it.
#
#   dockerd_host_save DIR          before starting dockerd: keep the iptables rules and
#                                  net.ipv4.ip_forward in DIR
#   dockerd_host_restore PID DIR   stop that dockerd (only if PID still is a dockerd), remove
#                                  the bridges it made, put the saved rules and ip_forward back

dockerd_host_save() {
	iptables-save >"$1/iptables.save" 2>/dev/null
	cat /proc/sys/net/ipv4/ip_forward >"$1/ip_forward.save"
}

dockerd_host_restore() {
	local pid=$1 dir=$2 i
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
		kill "$pid"
		for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	ip link del docker_gwbridge 2>/dev/null
	ip link del docker0 2>/dev/null
	if [ -s "$dir/iptables.save" ]; then
		iptables-restore <"$dir/iptables.save"
	else
		nft delete table ip nat 2>/dev/null
		nft delete table ip filter 2>/dev/null
	fi
	[ -f "$dir/ip_forward.save" ] && cat "$dir/ip_forward.save" >/proc/sys/net/ipv4/ip_forward
	return 0
}

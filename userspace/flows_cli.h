/* SPDX-License-Identifier: MIT */
/*
 * flows_cli: `spliced flows`, the flow inspector. Reads the maps a running spliced pinned
 * (sp_flows, sp_sides, sp_stats under --fastpath.pin) and lists live flows: addresses,
 * frontend, backend, bytes each way, age, and whether the kernel or userspace carries them.
 */
#ifndef SPLICED_FLOWS_CLI_H
#define SPLICED_FLOWS_CLI_H

/*
 * argv[0] is the command name. Options: --fastpath.pin DIR (default /sys/fs/bpf/spliced),
 * --json, --stats, --help. Prints to stdout; returns the process exit code (0 ok, 1 when
 * the maps cannot be read, 2 on a usage error).
 */
int flows_cli_main(int argc, char **argv);

#endif

// SPDX-License-Identifier: MIT
/* spliced-flows: the flow inspector as its own binary (same as `spliced flows`). */
#include "flows_cli.h"

int main(int argc, char **argv)
{
	return flows_cli_main(argc, argv);
}

#!/bin/bash
# The fastpath_transfer checks on the userspace relay (--fastpath=off): the relay carries
# every tunnel when the fast path is off, so it gets the same byte-exact tests.
FP_MODE=off SUITE_SUFFIX=_relay exec bash "$(dirname "$0")/fastpath_transfer.sh"

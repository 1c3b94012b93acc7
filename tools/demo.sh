#!/bin/bash
# make demo: the seed scenario. Until the swarm demo lands this runs the local demo.
exec "$(dirname "$0")/demo-local.sh" "$@"

#!/usr/bin/env bash
# "The step before step01": no runtime at all, the command run as is.
# tests/exercise/prev_step.sh runs tests/step01_pid.bats against it.
exec "$@"

#!/usr/bin/env bash
# Run Molecule scenarios side by side, a few at a time, each with its own log.
# Most of a scenario's time is spent waiting (package downloads, container
# round trips), so even a 2-core machine finishes several at once sooner than
# one after another.
#
#   tools/run-scenarios.sh SCENARIO...
# HERD_MOLECULE_JOBS (default: every scenario at once) sets how many run at once. Each log goes to
# .cache/molecule/<scenario>.log; a failed scenario's log tail is printed.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=${HERD_MOLECULE_JOBS:-$#}
logs=.cache/molecule
mkdir -p "$logs"

run_one() {
  local scenario=$1 started
  started=$(date +%s)
  # A scenario's containers have fixed names, so two checkouts on one machine
  # running the same scenario would destroy each other's: the second waits.
  if flock "/tmp/herd-molecule-$scenario.lock" molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1; then
    echo "scenario $scenario: passed in $(( $(date +%s) - started )) s"
  else
    echo "scenario $scenario: FAILED after $(( $(date +%s) - started )) s; last lines of $logs/$scenario.log:"
    tail -n 80 "$logs/$scenario.log" | sed "s/^/  $scenario| /"
    return 1
  fi
}
export -f run_one
export logs

printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
status=$?
[ "$status" -eq 0 ] && echo "all $# Molecule scenarios passed" || echo "some Molecule scenarios failed"
exit "$status"

"""Benchmark (not a test): how long the data tier takes to converge, and to re-run.

Runs the data-tier Molecule scenario's steps (create, converge, converge again,
then destroy unless --keep) and prints, for each converge, the wall time, the
number of tasks run (ok + changed + failed in the PLAY RECAP, summed over hosts)
and the number that changed. The second converge is the no-op re-run an
operator pays for on every deploy; it must report changed=0.

Usage: python3 scripts/bench_data_tier.py [--keep] [--scenario data-tier]
Exit status: 0 on success, 1 if a step fails or the re-run changed something.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MOLECULE = Path(sys.executable).with_name("molecule")
RECAP = re.compile(
    r"^\s*(?:│\s*)?(?P<host>[\w.-]+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)"
    r"\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Step:
    name: str
    seconds: float
    tasks: int
    changed: int
    failed: int
    hosts: int


def run_step(scenario: str, action: str, label: str) -> Step:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "true", "NO_COLOR": "1", "PY_COLORS": "0"}
    env.setdefault("CONTAINERS_CONF", str(REPO / "tools/env/sandbox-containers.conf"))
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - fixed argv, our own venv's molecule
        [str(MOLECULE), action, "-s", scenario],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )
    seconds = time.monotonic() - started
    output = ANSI.sub("", result.stdout + result.stderr)
    recaps = list(RECAP.finditer(output))
    if result.returncode != 0:
        sys.stderr.write(output[-4000:])
        raise SystemExit(f"molecule {action} -s {scenario} failed ({result.returncode})")
    return Step(
        name=label,
        seconds=seconds,
        tasks=sum(int(m["ok"]) + int(m["failed"]) for m in recaps),
        changed=sum(int(m["changed"]) for m in recaps),
        failed=sum(int(m["failed"]) for m in recaps),
        hosts=len(recaps),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="data-tier")
    parser.add_argument("--keep", action="store_true", help="leave the containers running")
    args = parser.parse_args()

    steps = [run_step(args.scenario, "destroy", "destroy (clean start)")]
    steps.append(run_step(args.scenario, "create", "create"))
    steps.append(run_step(args.scenario, "prepare", "prepare"))
    steps.append(run_step(args.scenario, "converge", "converge (fresh)"))
    steps.append(run_step(args.scenario, "converge", "converge (no-op re-run)"))
    if not args.keep:
        steps.append(run_step(args.scenario, "destroy", "destroy"))

    print(f"{'step':<26}{'wall s':>8}{'hosts':>7}{'tasks':>7}{'changed':>9}")
    for step in steps:
        print(f"{step.name:<26}{step.seconds:>8.1f}{step.hosts:>7}{step.tasks:>7}{step.changed:>9}")
    rerun = next(s for s in steps if s.name.startswith("converge (no-op"))
    if rerun.changed:
        print(f"FAIL: the re-run changed {rerun.changed} task(s); it must change nothing")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

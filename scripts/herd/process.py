"""Run external commands (pg_dump, tootctl, ...) the same way everywhere: argument
lists only (never a shell), logged, with failures raised as herd errors."""

import shlex
import subprocess
from collections.abc import Mapping, Sequence

from herd.errors import CommandFailed
from herd.log import StepLog


def run(argv: Sequence[str], log: StepLog, *, env: Mapping[str, str] | None = None,
        cwd: str | None = None, dry_run: bool = False, timeout: float | None = None,
        ) -> subprocess.CompletedProcess:
    """Run argv to completion, capturing output; raise CommandFailed on a non-zero exit."""
    log.step("run", command=shlex.join(argv), dry_run=dry_run)
    if dry_run:
        return subprocess.CompletedProcess(list(argv), 0, "", "")
    result = subprocess.run(  # noqa: S603 - argv lists built by herd, no shell
        list(argv), env=dict(env) if env is not None else None, cwd=cwd,
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if result.returncode != 0:
        raise CommandFailed(argv, result.returncode, result.stderr)
    return result

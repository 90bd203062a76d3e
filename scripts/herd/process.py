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


class Stream:
    """A running command whose stdin or stdout herd streams through, never a shell.

    Used as a context manager: on a clean exit it waits and raises CommandFailed for a
    non-zero status (Interrupted when the command was stopped by SIGTERM/SIGINT along
    with herd); on an exception it kills the command first, so nothing keeps running.
    stderr goes to an unnamed temporary file (small: diagnostics only).
    """

    def __init__(self, argv: Sequence[str], log: StepLog, *, mode: str,
                 env: Mapping[str, str] | None = None):
        import tempfile

        if mode not in ("read", "write"):
            raise ValueError(mode)
        self.argv = list(argv)
        log.step("run", command=shlex.join(self.argv), stream=mode)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(  # noqa: S603 - argv lists built by herd, no shell
            self.argv, env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if mode == "write" else subprocess.DEVNULL,
            stdout=subprocess.PIPE if mode == "read" else subprocess.DEVNULL,
            stderr=self._stderr)

    def __enter__(self) -> "Stream":
        return self

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read(64 * 1024).decode(errors="replace")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        import signal

        from herd.errors import Interrupted

        try:
            if kind is not None:
                self.process.kill()
                self.process.wait()
                return
            if self.process.stdin:
                self.process.stdin.close()
            returncode = self.process.wait()
            if returncode in (-signal.SIGTERM, -signal.SIGINT):
                raise Interrupted(f"{self.argv[0]} was stopped by signal {-returncode}")
            if returncode != 0:
                raise CommandFailed(self.argv, returncode, self.stderr_text())
        finally:
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe:
                    pipe.close()
            self._stderr.close()

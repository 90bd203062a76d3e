"""Errors and the exit codes they map to, shared by every herd command.

Monitoring and operators can tell failure kinds apart by exit code alone.
"""

from collections.abc import Sequence


class HerdError(Exception):
    """Base of herd's expected failures; `exit_code` says what kind."""

    exit_code = 1


class ConfigError(HerdError):
    """Bad input: refused before any change."""

    exit_code = 2


class CommandFailed(HerdError):  # noqa: N818 - reads as what happened
    """An external command (pg_dump, tootctl, ...) failed."""

    exit_code = 3

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str):
        self.argv, self.returncode, self.stderr = list(argv), returncode, stderr
        tail = stderr.strip().splitlines()[-3:]
        super().__init__(f"{argv[0]} exited with {returncode}: {' / '.join(tail)}")


class StorageError(HerdError):
    """The backup target (S3, SFTP) failed or refused."""

    exit_code = 4


class IntegrityError(HerdError):
    """Data failed verification: checksum mismatch, wrong key, corrupted part."""

    exit_code = 5


class Interrupted(HerdError):  # noqa: N818 - reads as what happened
    """Stopped by a signal before finishing; nothing half-done is left as complete."""

    exit_code = 6


class LockHeld(HerdError):  # noqa: N818 - reads as what happened
    """Another run holds the lock; this one did nothing."""

    exit_code = 7

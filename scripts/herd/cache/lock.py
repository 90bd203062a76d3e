"""The maintenance lock shared with the tootctl timers (`flock /run/herd/maintenance.lock`):
the same BSD flock, so a prune never overlaps another prune."""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from herd.errors import LockHeld


@contextmanager
def held(path: str, timeout: float, poll: float = 1.0) -> Iterator[None]:
    """Hold the lock at path, waiting up to timeout seconds (0: try once)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(f"{path} is held by another maintenance job; gave up "
                                   f"after {timeout:.0f} s") from None
                time.sleep(poll)
        yield
    finally:
        os.close(fd)  # closing releases the lock

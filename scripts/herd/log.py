"""One way to report progress for every herd command.

On a terminal, people get short human lines; otherwise (systemd timers,
CI) every step is one JSON object per line, easy for journald and
monitoring to parse.
"""

import json
import sys
import time
from typing import Any, TextIO


class StepLog:
    """Reports named steps with fields, as text on a terminal and JSON otherwise."""

    def __init__(self, command: str, stream: TextIO | None = None, structured: bool | None = None):
        self.command = command
        self.stream = stream or sys.stderr
        self.structured = (not self.stream.isatty()) if structured is None else structured

    def step(self, step: str, **fields: Any) -> None:
        if self.structured:
            record = {"time": round(time.time(), 3), "command": self.command, "step": step,
                      **fields}
            self.stream.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        else:
            details = " ".join(f"{key}={value}" for key, value in fields.items())
            self.stream.write(f"{self.command}: {step}{' ' + details if details else ''}\n")
        self.stream.flush()

    def progress(self, step: str, done: int, total: int | None = None) -> None:
        """Overwrite-in-place progress on a terminal; silent in structured mode."""
        if self.structured:
            return
        of = f"/{human_bytes(total)}" if total else ""
        self.stream.write(f"\r{self.command}: {step} {human_bytes(done)}{of}   ")
        self.stream.flush()


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")

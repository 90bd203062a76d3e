"""Why a task failed, safe to print when the task itself hides its output (no_log).

`result | herd_failure_reason(secrets, hint)` turns a registered result into one
line: the return code, the first line of the error (stderr, the module's own
stderr, else its message) with every secret and any `password=...` value replaced
by `<redacted>`, then the hint that says what to look at. A result that says
nothing gives the hint alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"
# password=..., password: ..., PGPASSWORD=... (a value in quotes, or up to a space).
PASSWORD_VALUE = re.compile(r"(?i)(pass(?:word)?\s*[=:]\s*)('[^']*'|\"[^\"]*\"|\S+)")
MAX_LINE = 300


def redact(text: str, secrets: Iterable[Any] = ()) -> str:
    # Longest first, so a secret that contains another is replaced whole.
    for secret in sorted((str(s) for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return PASSWORD_VALUE.sub(lambda match: match[1] + REDACTED, text)


def first_line(text: Any) -> str:
    return next((line.strip() for line in str(text or "").splitlines() if line.strip()), "")


def failure_reason(result: Mapping[str, Any] | None, secrets: Iterable[Any] = (),
                   hint: str = "") -> str:
    result = result or {}
    parts = []
    if result.get("rc") not in (None, 0):
        parts.append(f"rc={result['rc']}")
    line = next((first_line(result.get(key)) for key in ("stderr", "module_stderr", "msg")
                 if first_line(result.get(key))), "")
    if line:
        parts.append(redact(line, secrets)[:MAX_LINE])
    if hint:
        parts.append(hint)
    return "; ".join(parts) or "no reason recorded; re-run with herd_no_log: false on a test host"


class FilterModule:
    def filters(self):
        return {"herd_failure_reason": failure_reason}

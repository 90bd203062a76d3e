"""The YAML scalars upstream's `settings.value` column holds (Ruby's Psych output).

Psych writes a string setting as a one-document YAML stream: `--- My title\n`,
`--- 'a: b'\n`, `--- "caf\\xE9"\n`, `--- |-\n  line one\n  line two\n`, long plain or
quoted strings folded over several indented lines, booleans, integers and `---\n...\n`
style documents. Only scalars are needed here.
"""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .,/@()+-]*$")
_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _fold(lines: list[str]) -> str:
    """Join the continuation lines of a flow scalar: a line break is a space, an empty
    line is a newline (YAML 1.1 line folding)."""
    out = ""
    pending_space = False
    for line in (item.strip() for item in lines):
        if not line:
            out += "\n"
            pending_space = False
            continue
        if pending_space:
            out += " "
        out += line
        pending_space = True
    return out


def _block(indicator: str, lines: list[str]) -> str:
    body = [line for line in lines]
    while body and body[-1].strip() in ("", "..."):
        if body[-1].strip() == "...":
            body.pop()
            continue
        break
    indents = [len(line) - len(line.lstrip(" ")) for line in body if line.strip()]
    cut = min(indents) if indents else 0
    body = [line[cut:] for line in body]
    text = _fold(body) if indicator.startswith(">") else "\n".join(body)
    chomp = indicator[1:2]
    if chomp == "-":
        return text.rstrip("\n")
    if chomp == "+":
        return text + "\n"
    return text.rstrip("\n") + "\n"


def _plain(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("null", "~", ""):
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?", text):
        return float(text)
    return text


def load(document: str | None) -> Any:
    """Parse one YAML document holding a scalar; anything else comes back as text."""
    if document is None:
        return None
    lines = document.splitlines()
    while lines and (not lines[-1].strip() or lines[-1].strip() == "..."):
        lines.pop()
    if not lines:
        return None
    first = lines[0]
    if first.startswith("---"):
        first = first[3:].strip()
        rest = lines[1:]
    else:
        first, rest = first.strip(), lines[1:]
    if first[:1] in ("|", ">"):
        return _block(first, rest)
    if not first and rest:
        first, rest = rest[0].strip(), rest[1:]
    text = _fold([first, *rest]) if rest else first
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        inner = text[1:-1]
        inner = re.sub(r"\\x([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), inner)
        try:
            return json.loads(f'"{inner}"')
        except json.JSONDecodeError:
            return inner
    if text.startswith("!ruby/") or text.startswith(":"):
        return text
    return _plain(text)


def dump(value: Any) -> str:
    """Write a scalar the way Psych's `to_yaml` does for the values the stand-in writes."""
    if value is None:
        return "--- \n"
    if value is True or value is False:
        return f"--- {'true' if value else 'false'}\n"
    if isinstance(value, int | float):
        return f"--- {value}\n"
    text = str(value)
    if "\n" in text:
        indicator = "|-" if not text.endswith("\n") else "|"
        body = "".join(f"  {line}\n" if line else "\n" for line in text.rstrip("\n").split("\n"))
        return f"--- {indicator}\n{body}"
    if _PLAIN_SAFE.match(text) and text.lower() not in _SPECIAL and text == text.strip() \
            and not isinstance(_plain(text), int | float):
        return f"--- {text}\n"
    return "--- '" + text.replace("'", "''") + "'\n"

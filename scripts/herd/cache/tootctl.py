"""tootctl's pruning commands as upstream defines them, and validation of the extra
options an operator passes through (unknown or herd-managed options are refused)."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from herd.errors import ConfigError

FLAGS_FILE = Path(__file__).with_name("tootctl_flags.json")

# Options that only make sense together with one of the profile options (upstream rule).
PROFILE_OPTIONS = ("--prune-profiles", "--remove-headers")


@cache
def _table() -> dict[str, Any]:
    commands: dict[str, Any] = json.loads(FLAGS_FILE.read_text())["commands"]
    return commands


def commands() -> list[str]:
    return sorted(_table())


def _canonical(name: str) -> str:
    """Thor accepts --dry_run and --dry-run alike; compare in the dashed form."""
    return "--" + name[2:].replace("_", "-")


def validate_options(command: str, options: list[str], *, variable: str) -> list[str]:
    """Check pass-through options for `command`; return them unchanged or raise ConfigError.

    Each option is one argv token: `--switch` or `--option=VALUE`.
    """
    spec = _table().get(command)
    if spec is None:
        raise ConfigError(f"{variable}: unknown tootctl command {command!r}; "
                          f"known: {', '.join(commands())}")
    known: dict[str, str] = spec["options"]
    managed = set(spec["managed"])
    seen: set[str] = set()
    for option in options:
        name, has_value, value = option.partition("=")
        canonical = _canonical(name) if name.startswith("--") else name
        if canonical not in known:
            raise ConfigError(
                f"{variable}: {option!r} is not an option of `tootctl {command}`; "
                f"use one of {', '.join(sorted(set(known) - managed))}")
        if canonical in managed:
            raise ConfigError(f"{variable}: {canonical} is set by herd itself; "
                              f"remove {option!r} and use the dedicated setting")
        if known[canonical] == "value" and not (has_value and value):
            raise ConfigError(f"{variable}: {canonical} needs a value: write {canonical}=VALUE")
        if known[canonical] == "switch" and has_value:
            raise ConfigError(f"{variable}: {canonical} takes no value: write {canonical}")
        seen.add(canonical)
    if seen.issuperset(PROFILE_OPTIONS):
        raise ConfigError(f"{variable}: {' and '.join(PROFILE_OPTIONS)} exclude each other "
                          "(upstream refuses both); --prune-profiles already includes headers")
    if "--include-follows" in seen and not seen.intersection(PROFILE_OPTIONS):
        raise ConfigError(f"{variable}: --include-follows only works together with "
                          f"{' or '.join(PROFILE_OPTIONS)}; add one or drop it")
    return list(options)

"""Thor-style command-line parsing for the stand-in's tootctl.

Only the commands and options listed in herd's upstream reference exist; anything else is
refused with Thor's wording, so a timer or task calling a misspelt or invented flag fails
in tests instead of silently doing nothing. (Upstream Thor ignores unknown switches unless
the class calls check_unknown_options!: the stand-in is deliberately stricter.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NUMERIC = re.compile(r"^[-+]?(\d*\.\d+|\d+)$")


class UsageError(Exception):
    """Thor::Error equivalent: the command line is not one upstream accepts."""


@dataclass(frozen=True)
class Opt:
    name: str  # Ruby symbol form: dry_run
    kind: str = "boolean"  # boolean | numeric | string
    default: Any = None
    aliases: tuple[str, ...] = ()
    required: bool = False
    enum: tuple[str, ...] = ()
    since: tuple[int, int] = (0, 0)

    @property
    def switch(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  # ("media", "remove")
    usage: str  # shown in errors: "USERNAME", "DOMAIN...", ""
    minimum: int = 0  # positional arguments
    maximum: int | None = 0  # None: any number
    options: tuple[Opt, ...] = ()
    since: tuple[int, int] = (0, 0)


@dataclass
class Invocation:
    command: Command
    args: list[str]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return " ".join(self.command.path)


def b(name: str, default: Any = None, aliases: tuple[str, ...] = (), **kw: Any) -> Opt:
    return Opt(name, "boolean", default, aliases, **kw)


def n(name: str, default: Any = None, aliases: tuple[str, ...] = (), **kw: Any) -> Opt:
    return Opt(name, "numeric", default, aliases, **kw)


def s(name: str, default: Any = None, aliases: tuple[str, ...] = (), **kw: Any) -> Opt:
    return Opt(name, "string", default, aliases, **kw)


CONCURRENCY = n("concurrency", 5, ("c",))
VERBOSE = b("verbose", None, ("v",))
DRY_RUN = b("dry_run", False)

COMMANDS: tuple[Command, ...] = (
    Command(("media", "remove"), "", options=(
        n("days", 7, ("d",)), b("prune_profiles", False), b("remove_headers", False),
        b("include_follows", False), b("keep_interacted", False, since=(4, 6)),
        CONCURRENCY, VERBOSE, DRY_RUN)),
    Command(("media", "remove_orphans"), "", options=(
        s("start_after"), s("prefix"), b("fix_permissions", False), DRY_RUN)),
    Command(("media", "usage"), ""),
    Command(("preview_cards", "remove"), "", options=(
        n("days", 180), CONCURRENCY, VERBOSE, DRY_RUN, b("link", False))),
    Command(("statuses", "remove"), "", options=(
        n("days", 90), n("batch_size", 1000, ("b",)), b("continue", False),
        b("clean_followed", False), b("skip_status_remove", False),
        b("skip_media_remove", False), b("compress_database", False))),
    Command(("accounts", "prune"), "", options=(CONCURRENCY, VERBOSE, b("dry_run"))),
    Command(("accounts", "create"), "USERNAME", 1, 1, options=(
        s("email", required=True), b("confirmed"), s("role"), b("reattach"), b("force"),
        b("approve"))),
    Command(("accounts", "modify"), "USERNAME", 1, 1, options=(
        s("role"), b("remove_role"), s("email"), b("confirm"), b("enable"), b("disable"),
        b("disable_2fa"), b("approve"), b("reset_password"))),
    Command(("settings", "registrations", "open"), ""),
    Command(("settings", "registrations", "approved"), "", options=(
        b("require_reason", None, ("require_invite_text",)),)),
    Command(("settings", "registrations", "close"), ""),
    Command(("email_domain_blocks", "list"), ""),
    Command(("email_domain_blocks", "add"), "DOMAIN...", 0, None, options=(
        b("with_dns_records"), b("allow_with_approval", False, since=(4, 6)))),
    Command(("email_domain_blocks", "remove"), "DOMAIN...", 0, None),
    Command(("ip_blocks", "add"), "IP...", 0, None, options=(
        s("severity", required=True,
          enum=("no_access", "sign_up_requires_approval", "sign_up_block")),
        s("comment", aliases=("c",)), n("duration", aliases=("d",)),
        b("force", aliases=("f",)))),
    Command(("ip_blocks", "remove"), "IP...", 0, None, options=(b("force", aliases=("f",)),)),
    Command(("domains", "purge"), "[DOMAIN...]", 0, None, options=(
        CONCURRENCY, VERBOSE, b("dry_run"), b("limited_federation_mode"), b("by_uri"),
        b("include_subdomains"), b("purge_domain_blocks"))),
    Command(("cache", "clear"), ""),
    Command(("feeds", "build"), "[USERNAME]", 0, 1, options=(
        b("all"), CONCURRENCY, VERBOSE, b("dry_run"))),
    Command(("search", "deploy"), "", options=(
        n("concurrency", 5, ("c",)), n("batch_size", 100, ("b",)), s("only"),
        b("import", True), b("clean", True), b("reset_chewy"), b("only_mapping"))),
    Command(("maintenance", "fix_duplicates"), ""),
    Command(("version",), ""),
)


def _normal(word: str) -> str:
    return word.replace("-", "_")


def _available(item: Command | Opt, version: tuple[int, int, int]) -> bool:
    return version[:2] >= item.since


def find_command(words: list[str], version: tuple[int, int, int]) -> tuple[Command, int]:
    """Match the leading words (dashed or underscored) to a command; return it and how
    many words it used."""
    commands = [c for c in COMMANDS if _available(c, version)]
    if not words:
        raise UsageError("Commands:\n" + "\n".join(
            "  tootctl " + " ".join(c.path) for c in commands))
    depth = 0
    candidates = commands
    while True:
        if depth < len(words) and not words[depth].startswith("-"):
            word = _normal(words[depth])
            narrowed = [c for c in candidates if len(c.path) > depth and c.path[depth] == word]
        else:
            narrowed = []
        if not narrowed:
            exact = [c for c in candidates if len(c.path) == depth]
            if exact:
                return exact[0], depth
            if depth == 0:
                raise UsageError(f'Could not find command "{words[0]}".')
            namespace = " ".join(candidates[0].path[:depth])
            if depth < len(words) and not words[depth].startswith("-"):
                raise UsageError(
                    f'Could not find command "{words[depth]}" in "{namespace}" namespace.')
            raise UsageError("Commands:\n" + "\n".join(
                "  tootctl " + " ".join(c.path) for c in candidates))
        candidates = narrowed
        depth += 1


def _value(opt: Opt, switch: str, raw: str | None) -> Any:
    if opt.kind == "numeric":
        if raw is None:
            raise UsageError(f"No value provided for option '{switch}'")
        if not NUMERIC.match(raw):
            raise UsageError(f"Expected numeric value for '{switch}'; got \"{raw}\"")
        return float(raw) if "." in raw else int(raw)
    if raw is None:
        raise UsageError(f"No value provided for option '{switch}'")
    if opt.enum and raw not in opt.enum:
        raise UsageError(
            f"Expected '{switch}' to be one of {', '.join(opt.enum)}; got {raw}")
    return raw


def parse(argv: list[str], version: tuple[int, int, int]) -> Invocation:
    command, used = find_command(argv, version)
    options = [o for o in command.options if _available(o, version)]
    by_switch: dict[str, Opt] = {}
    for known in options:
        by_switch[known.switch] = known
        for alias in known.aliases:
            by_switch[("-" if len(alias) == 1 else "--") + alias.replace("_", "-")] = known
    values: dict[str, Any] = {o.name: o.default for o in options}
    given: set[str] = set()
    args: list[str] = []
    unknown: list[str] = []
    rest = argv[used:]
    i = 0
    while i < len(rest):
        token = rest[i]
        i += 1
        if token == "--":
            args.extend(rest[i:])
            break
        if not token.startswith("-") or token == "-":
            args.append(token)
            continue
        switch, _, inline = token.partition("=")
        inline_value = inline if "=" in token else None
        if switch.startswith("--"):
            switch = "--" + switch[2:].replace("_", "-")
        negated = None
        opt: Opt | None = by_switch.get(switch)
        if opt is None:
            for prefix in ("--no-", "--skip-"):
                if switch.startswith(prefix):
                    candidate = by_switch.get("--" + switch[len(prefix):])
                    if candidate is not None and candidate.kind == "boolean":
                        opt, negated = candidate, True
        if opt is None:
            unknown.append(token.partition("=")[0])
            continue
        if opt.kind == "boolean":
            if negated:
                values[opt.name] = False
            elif inline_value is not None:
                if inline_value not in ("true", "false"):
                    raise UsageError(
                        f"Expected boolean value for '{opt.switch}'; got {inline_value!r}")
                values[opt.name] = inline_value == "true"
            elif i < len(rest) and rest[i] in ("true", "false"):
                values[opt.name] = rest[i] == "true"
                i += 1
            else:
                values[opt.name] = True
        else:
            raw = inline_value
            if raw is None and i < len(rest) and not rest[i].startswith("--"):
                raw = rest[i]
                i += 1
            values[opt.name] = _value(opt, switch, raw)
        given.add(opt.name)
    label = f'"tootctl {" ".join(command.path)}"'
    suffix = f" {command.usage}" if command.usage else ""
    usage = f'Usage: "tootctl {" ".join(command.path)}{suffix}"'
    if unknown:
        raise UsageError("Unknown switches " + ", ".join(f'"{u}"' for u in unknown))
    missing = [o.switch for o in options if o.required and o.name not in given]
    if missing:
        raise UsageError("No value provided for required options " +
                         ", ".join(f"'{m}'" for m in missing))
    if len(args) < command.minimum:
        raise UsageError(f"ERROR: {label} was called with no arguments\n{usage}")
    if command.maximum is not None and len(args) > command.maximum:
        shown = "[" + ", ".join(f'"{a}"' for a in args) + "]"
        raise UsageError(f"ERROR: {label} was called with arguments {shown}\n{usage}")
    return Invocation(command, args, values)

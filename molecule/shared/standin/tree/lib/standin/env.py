"""Boot-time contract of the stand-in: environment loading and the checks upstream makes.

Upstream loads `.env.production` itself (dotenv-rails for web, sidekiq, rails and tootctl;
dotenv for the streaming server); its systemd units have no EnvironmentFile. Values already
in the process environment win over the file, as dotenv does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# lib/standin/env.py -> the application root (upstream's Rails.root)
ROOT = Path(__file__).resolve().parents[2]

REQUIRED_SECRETS = (
    "SECRET_KEY_BASE",
    "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
    "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
    "VAPID_PRIVATE_KEY",
    "VAPID_PUBLIC_KEY",
)

class ContractError(Exception):
    """The caller broke upstream's contract; the process must refuse to run."""


class DotenvFormatError(ContractError):
    """Dotenv::FormatError: upstream's Rails processes do not boot."""


# Ruby dotenv 3.2.0 (upstream's Gemfile.lock:215 at 1440d55b), re-implemented because
# Debian packages ruby-dotenv 2.4, whose parser differs (it splits lines first, so no
# value spans lines, and does not unescape or expand unquoted values the same way).
# Each piece below follows lib/dotenv/parser.rb of dotenv v3.2.0; Ruby's `^`/`$` are
# line anchors and its `\s`/`\w` are ASCII, hence re.MULTILINE | re.ASCII.
_LINE = re.compile(  # parser.rb:16-34 (LINE)
    r"""
    (?:^|\A)
    \s*
    (?P<export>export\s+)?
    (?P<key>[\w.]+)
    (?:
      (?:\s*=\s*?|:\s+?)
      (?P<value>
        \s*'(?:\\'|[^'])*'
        |
        \s*"(?:\\"|[^"])*"
        |
        [^\#\n]+
      )?
    )?
    \s*
    (?:\#.*)?
    (?:$|\Z)
    """,
    re.VERBOSE | re.MULTILINE | re.ASCII,
)
_QUOTED = re.compile(r"(['\"])(.*)\1", re.DOTALL)  # parser.rb:36 (QUOTED_STRING)
_UNESCAPE = re.compile(r"\\([^$])")  # parser.rb:98
# substitutions/variable.rb:12-19 (VARIABLE, case-insensitive)
_VARIABLE = re.compile(r"(\\)?(\$)(?!\()\{?([A-Z0-9_]+)?\}?", re.IGNORECASE)
_RUBY_STRIP = "\x00\t\n\v\f\r "  # String#strip


def _balanced(value: str, i: int) -> int:
    r"""End (exclusive) of `\((?:[^()]|\g<cmd>)+\)` at value[i], or -1 (command.rb:14-20).
    The alternatives differ in their first character, so no backtracking is needed."""
    if value[i:i + 1] != "(":
        return -1
    j, count = i + 1, 0
    while j < len(value) and value[j] != ")":
        if value[j] == "(":
            j = _balanced(value, j)
            if j < 0:
                return -1
        else:
            j += 1
        count += 1
    return j + 1 if j < len(value) and count > 0 else -1


def _substitute_commands(value: str, run) -> str:
    r"""substitutions/command.rb:23-37: `$(cmd)` runs cmd in a shell (Ruby's backticks)
    and becomes its output less one trailing line break; `\$(cmd)` becomes `$(cmd)`."""
    out, i = [], 0
    while i < len(value):
        escaped = value.startswith("\\$", i)
        dollar = i + 1 if escaped else i
        end = _balanced(value, dollar + 1) if value.startswith("$", dollar) else -1
        if end > 0:
            out.append(value[dollar:end] if escaped else run(value[dollar + 2:end - 1]))
            i = end
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


def _run_command(command: str) -> str:
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                            check=False)
    output = result.stdout
    for ending in ("\r\n", "\n", "\r"):  # String#chomp
        if output.endswith(ending):
            return output[: -len(ending)]
    return output


def _substitute_variables(value: str, values: dict[str, str], environ) -> str:
    """substitutions/variable.rb:21-33."""
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)[1:]
        if match.group(3):
            name = match.group(3)
            return values.get(name) or environ.get(name) or ""
        return match.group(0)

    return _VARIABLE.sub(replace, value)


def _parse_value(value: str, values: dict[str, str], environ, run) -> str:
    """parser.rb:80-107 (parse_value, unescape_characters, expand_newlines)."""
    value = value.strip(_RUBY_STRIP)
    quoted = _QUOTED.fullmatch(value)
    quote = quoted.group(1) if quoted else None
    if quoted:
        value = quoted.group(2)
    if quote == '"':
        if (values.get("DOTENV_LINEBREAK_MODE") or environ.get("DOTENV_LINEBREAK_MODE")) \
                == "legacy":
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        else:
            value = value.replace("\\n", "\\\\n").replace("\\r", "\\\\r")
    if quote != "'":
        value = _UNESCAPE.sub(r"\1", value)
        value = _substitute_commands(value, lambda cmd: run(
            _substitute_variables(cmd, values, environ)))
        value = _substitute_variables(value, values, environ)
    return value


def parse_dotenv(text: str, environ=None, run=_run_command) -> dict[str, str]:
    """Parse `.env.production` as upstream's Rails side does (dotenv 3.2.0, parser.rb:53-71).

    environ: the process environment; a key already in it keeps its value (dotenv's
    `load` does not overwrite), and `$VAR` falls back to it.
    """
    environ = os.environ if environ is None else environ
    text = re.sub(r"\r\n?", "\n", text)  # parser.rb:48
    values: dict[str, str] = {}
    for match in _LINE.finditer(text):
        key, value = match.group("key"), match.group("value")
        if key != "DOTENV_LINEBREAK_MODE" and key in environ:  # parser.rb:76-78
            values[key] = environ[key]
        elif match.group("export") and value is None:
            if key not in values:
                raise DotenvFormatError(f"Line {match.group(0)!r} has an unset variable")
        else:
            values[key] = _parse_value(value or "", values, environ, run)
    return values


def load(root: Path = ROOT, dotenv_name: str = ".env.production") -> dict[str, str]:
    """Return the effective environment: the dotenv file overlaid by the process environment."""
    env: dict[str, str] = {}
    path = root / dotenv_name
    if path.is_file():
        env.update(parse_dotenv(path.read_text(encoding="utf-8")))
    env.update(os.environ)
    return env


def version(root: Path = ROOT) -> tuple[int, int, int]:
    """Read the release from lib/mastodon/version.rb, the file upstream keeps it in."""
    text = (root / "lib" / "mastodon" / "version.rb").read_text(encoding="utf-8")
    parts = []
    for name in ("major", "minor", "patch"):
        match = re.search(rf"def {name}\s+(\d+)", text)
        if not match:
            raise ContractError(f"lib/mastodon/version.rb has no {name} number")
        parts.append(int(match.group(1)))
    return parts[0], parts[1], parts[2]


def version_string(root: Path = ROOT) -> str:
    return ".".join(str(part) for part in version(root))


def present(env: dict[str, str], key: str) -> bool:
    return bool(env.get(key, "").strip())


def check_rails_env(env: dict[str, str]) -> None:
    rails_env = env.get("RAILS_ENV", "") or "development"
    if rails_env != "production":
        raise ContractError(
            f"RAILS_ENV is {rails_env!r}: only the production environment is installed "
            "(bundle config without 'development test'); run with RAILS_ENV=production"
        )


def database_problems(env: dict[str, str]) -> list[str]:
    if present(env, "DATABASE_URL"):
        return []
    problems = [
        f"{key} is not set" for key in ("DB_HOST", "DB_NAME", "DB_USER") if not present(env, key)
    ]
    host = env.get("DB_HOST", "")
    if host and not host.startswith("/") and not present(env, "DB_PASS"):
        problems.append(f"DB_PASS is not set but DB_HOST={host} connects over TCP")
    return problems


def check_database(env: dict[str, str]) -> None:
    problems = database_problems(env)
    if problems:
        raise ContractError(
            "database settings incomplete: " + "; ".join(problems)
            + " (set DB_HOST/DB_NAME/DB_USER[/DB_PASS] or DATABASE_URL in .env.production)"
        )


def check_redis(env: dict[str, str], root: Path = ROOT) -> None:
    if version(root) >= (4, 6, 0) and present(env, "REDIS_NAMESPACE"):
        raise ContractError(
            "REDIS_NAMESPACE is no longer supported since Mastodon 4.6: remove it and use a "
            "separate Redis database (REDIS_DB) or server instead"
        )


def check_secrets(env: dict[str, str]) -> None:
    missing = [key for key in REQUIRED_SECRETS if not present(env, key)]
    if missing:
        raise ContractError(
            "missing required secrets: " + ", ".join(missing)
            + " (generate them with bin/rails secret, bin/rails db:encryption:init and "
            "bin/rails mastodon:webpush:generate_vapid_key, then put them in .env.production)"
        )


def check_boot(env: dict[str, str], root: Path = ROOT, *, secrets: bool = True) -> None:
    """What booting the Rails application checks before anything runs."""
    check_rails_env(env)
    if not present(env, "LOCAL_DOMAIN"):
        raise ContractError("LOCAL_DOMAIN is not set (it cannot change after the first start)")
    check_database(env)
    check_redis(env, root)
    if secrets and env.get("SECRET_KEY_BASE_DUMMY", "") != "1":
        check_secrets(env)


def die(program: str, error: Exception, code: int = 1) -> None:
    print(f"{program}: {error}", file=sys.stderr)
    sys.exit(code)

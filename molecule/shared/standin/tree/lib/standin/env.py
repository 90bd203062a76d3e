"""Boot-time contract of the stand-in: environment loading and the checks upstream makes.

Upstream loads `.env.production` itself (dotenv-rails for web, sidekiq, rails and tootctl;
dotenv for the streaming server); its systemd units have no EnvironmentFile. Values already
in the process environment win over the file, as dotenv does.
"""

from __future__ import annotations

import os
import re
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

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


class ContractError(Exception):
    """The caller broke upstream's contract; the process must refuse to run."""


def parse_dotenv(text: str) -> dict[str, str]:
    """Parse the dotenv subset Mastodon's `.env.production` uses (KEY=value, quotes, #)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        match = _LINE.match(raw)
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) >= 2:
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.sub(r"\s+#.*$", "", value)
        values[key] = value
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

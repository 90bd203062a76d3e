"""The backup configuration: loaded from YAML or JSON and validated before anything runs.

Every refusal names the key and the fix. Validation only reads (files, the key); it
never contacts the target or the database.
"""

import base64
import json
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herd.backup import crypto
from herd.errors import ConfigError

TARGET_TYPES = ("s3", "sftp", "local")
# In a directory herd-backup creates 0700, never a world-writable one such as /run/lock.
DEFAULT_LOCK_FILE = "/run/herd-backup/lock"


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    path_style: bool = False
    part_size: int = 16 * 1024 * 1024
    timeout: int = 60
    type: str = "s3"


@dataclass(frozen=True)
class SftpTarget:
    host: str
    known_hosts_line: str
    key_file: str
    user: str = "root"
    port: int = 22
    path: str = "."
    timeout: int = 30
    type: str = "sftp"


@dataclass(frozen=True)
class LocalTarget:
    path: str
    type: str = "local"


Target = S3Target | SftpTarget | LocalTarget


@dataclass(frozen=True)
class Database:
    name: str = "mastodon_production"
    # Role that owns the restored objects (pg_restore --role) and the created database.
    owner: str = "mastodon"
    # Connection used by pg_dump/pg_restore/psql; empty means libpq defaults.
    host: str | None = None
    port: int | None = None
    user: str | None = None
    # Run the PostgreSQL client programs as this OS user (runuser), e.g. postgres for
    # peer authentication when herd runs as root.
    os_user: str | None = None
    # Tables whose rows `verify` counts in the scratch copy.
    verify_tables: tuple[str, ...] = ("accounts", "statuses", "users")


@dataclass(frozen=True)
class FileItem:
    """A single file (.env.production, secrets) backed up and restored as is."""

    part: str
    path: str
    required: bool = True


@dataclass(frozen=True)
class RedisServer:
    """Where herd asks for a fresh snapshot (BGSAVE) before it copies dump_file."""

    host: str = "127.0.0.1"
    port: int = 6379
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    save_timeout: int = 600


@dataclass(frozen=True)
class Retention:
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    # Run prune after each successful backup (never after a failed one).
    after_backup: bool = True


@dataclass(frozen=True)
class Config:
    target: Target
    key_file: str
    key: bytes = field(repr=False)
    database: Database
    files: tuple[FileItem, ...]
    uploads_dir: str | None
    uploads_exclude: tuple[str, ...]
    redis_dump: str | None
    mastodon_root: str
    retention: Retention
    work_dir: str
    restore_jobs: int
    lock_file: str
    status_file: str | None
    metrics_file: str | None = None
    source: str = ""
    redis: RedisServer = field(default_factory=RedisServer)


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: must be a mapping, got {type(value).__name__}")
    return value


def _unknown(section: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(section) - allowed)
    if extra:
        raise ConfigError(f"{where}{extra[0]}: unknown key (a typo?); known keys: "
                          f"{', '.join(sorted(allowed))}")


def _string(section: dict[str, Any], key: str, where: str, default: str | None = None,
            required: bool = False, fix: str = "") -> str | None:
    value = section.get(key, default)
    if value in (None, ""):
        if required:
            raise ConfigError(f"{where}{key}: required{'; ' + fix if fix else ''}")
        return default
    if not isinstance(value, str | int):
        raise ConfigError(f"{where}{key}: must be a string, got {type(value).__name__}")
    return str(value)


def _int(section: dict[str, Any], key: str, where: str, default: int, minimum: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}{key}: must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{where}{key}: must be at least {minimum}, got {value}")
    return value


def _target(data: dict[str, Any]) -> Target:
    section = _section(data, "target")
    kind = section.get("type")
    if kind not in TARGET_TYPES:
        raise ConfigError(f"target.type: unknown target type {kind!r}; "
                          f"use one of: {', '.join(TARGET_TYPES)}")
    where = "target."
    if kind == "s3":
        _unknown(section, {"type", "bucket", "prefix", "endpoint_url", "region",
                           "access_key_id", "secret_access_key", "secret_access_key_file",
                           "path_style", "part_size_mib", "timeout"}, where)
        bucket = _string(section, "bucket", where, required=True,
                         fix="set the name of an existing S3 bucket")
        secret = _string(section, "secret_access_key", where)
        secret_file = _string(section, "secret_access_key_file", where)
        if secret_file:
            secret = _read_text(secret_file, "target.secret_access_key_file").strip()
        part_mib = _int(section, "part_size_mib", where, 16, 5)
        if part_mib > 512:
            raise ConfigError("target.part_size_mib: at most 512 (memory use is about twice "
                              "the part size)")
        return S3Target(
            bucket=str(bucket), prefix=str(_string(section, "prefix", where, "")).strip("/"),
            endpoint_url=_endpoint_url(_string(section, "endpoint_url", where)),
            region=_region(_string(section, "region", where)),
            access_key_id=_string(section, "access_key_id", where),
            secret_access_key=secret, path_style=bool(section.get("path_style", False)),
            part_size=part_mib * 1024 * 1024, timeout=_int(section, "timeout", where, 60, 1))
    if kind == "sftp":
        _unknown(section, {"type", "host", "port", "user", "key_file", "known_hosts_line",
                           "path", "timeout"}, where)
        host = _string(section, "host", where, required=True, fix="set the SFTP server name")
        line = _string(section, "known_hosts_line", where, required=True,
                       fix="set the server's host key as a known_hosts line, e.g. the output "
                           "of `ssh-keyscan -p PORT HOST`; herd never trusts unknown host keys")
        key_file = _string(section, "key_file", where, required=True,
                           fix="set the private key used to log in")
        _readable(str(key_file), "target.key_file")
        _check_known_hosts_line(str(line))
        return SftpTarget(host=str(host), known_hosts_line=str(line), key_file=str(key_file),
                          user=str(_string(section, "user", where, "root")),
                          port=_int(section, "port", where, 22, 1),
                          path=str(_string(section, "path", where, ".")).rstrip("/") or "/",
                          timeout=_int(section, "timeout", where, 30, 1))
    _unknown(section, {"type", "path"}, where)
    path = _string(section, "path", where, required=True, fix="set a directory for backups")
    return LocalTarget(path=str(path))


def _endpoint_url(value: str | None) -> str | None:
    fix = "use an http(s) URL such as https://s3.example.net or http://127.0.0.1:9000"
    if value is None:
        return None
    try:
        url = urllib.parse.urlsplit(value)
        url.port  # noqa: B018 - raises ValueError when out of range or not a number
    except ValueError as error:
        raise ConfigError(f"target.endpoint_url: {value!r} is not a URL ({error}); {fix}") \
            from error
    if (url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment
            or any(c.isspace() for c in value)):
        raise ConfigError(f"target.endpoint_url: {value!r} is not an http(s) URL of a host; "
                          f"{fix}")
    return value


# Region names go into host names (s3.REGION.amazonaws.com): one DNS label.
REGION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _region(value: str | None) -> str | None:
    if value is not None and not REGION.fullmatch(value):
        raise ConfigError(f"target.region: {value!r} is not a region name (letters, digits "
                          "and inner hyphens, e.g. us-east-1 or garage); set the region your "
                          "S3 provider documents, or leave it empty")
    return value


def _check_known_hosts_line(line: str) -> None:
    fields = line.split()
    if len(fields) < 3 or not fields[1].startswith(("ssh-", "ecdsa-", "sk-")):
        raise ConfigError("target.known_hosts_line: expected `HOST KEYTYPE BASE64KEY` "
                          f"(one line of known_hosts), got {line[:60]!r}")
    # The key blob starts with its own type name (RFC 4253 6.6): a truncated or mangled
    # line, or a key pasted under the wrong type, is refused here, not mid-connection.
    try:
        blob = base64.b64decode(fields[2], validate=True)
    except ValueError:
        blob = b""
    size = int.from_bytes(blob[:4], "big")
    if blob[4:4 + size] != fields[1].encode() or len(blob) <= 4 + size:
        raise ConfigError(f"target.known_hosts_line: the {fields[1]} key {fields[2][:24]!r}... "
                          "is not a base64 key of that type; copy the line again from "
                          "`ssh-keyscan -p PORT HOST` (checked out of band)")


def _read_text(path: str, key: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path} ({error.strerror}); fix the path or "
                          "its permissions") from error


def _readable(path: str, key: str) -> None:
    if not os.access(path, os.R_OK) or not Path(path).is_file():
        raise ConfigError(f"{key}: {path} is missing or unreadable; fix the path or its "
                          "permissions")


def _database(data: dict[str, Any]) -> Database:
    section = _section(data, "database")
    where = "database."
    _unknown(section, {"name", "owner", "host", "port", "user", "os_user", "verify_tables"},
             where)
    tables = section.get("verify_tables", list(Database.verify_tables))
    if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
        raise ConfigError("database.verify_tables: must be a list of table names")
    port = section.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise ConfigError(f"database.port: must be an integer, got {port!r}")
    return Database(
        name=str(_string(section, "name", where, Database.name)),
        owner=str(_string(section, "owner", where, Database.owner)),
        host=_string(section, "host", where), port=port,
        user=_string(section, "user", where), os_user=_string(section, "os_user", where),
        verify_tables=tuple(tables))


def _retention(data: dict[str, Any]) -> Retention:
    section = _section(data, "retention")
    where = "retention."
    _unknown(section, {"keep_daily", "keep_weekly", "keep_monthly", "after_backup"}, where)
    return Retention(keep_daily=_int(section, "keep_daily", where, 7, 1),
                     keep_weekly=_int(section, "keep_weekly", where, 4, 1),
                     keep_monthly=_int(section, "keep_monthly", where, 6, 1),
                     after_backup=bool(section.get("after_backup", True)))


def parse(data: Any, source: str = "<config>") -> Config:
    """Validate a loaded document; ConfigError names the first bad key and the fix."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping at the top level")
    _unknown(data, {"target", "key_file", "database", "mastodon", "redis", "retention",
                    "restore", "lock_file", "status_file", "metrics_file"}, "")
    target = _target(data)
    key_file = _string(data, "key_file", "", required=True,
                       fix="point it at the 32-byte base64 key (0600) from the inventory")
    key = crypto.load_key(str(key_file))
    database = _database(data)

    mastodon = _section(data, "mastodon")
    _unknown(mastodon, {"root", "env_file", "secrets_file", "uploads_dir", "uploads_exclude"},
             "mastodon.")
    root = str(_string(mastodon, "root", "mastodon.", "/home/mastodon/live"))

    def under_root(value: str | None) -> str | None:
        return None if value is None else str(Path(root, value))

    files = []
    env_file = mastodon.get("env_file", ".env.production")
    if env_file:  # empty: this host has no Mastodon checkout (a split database host)
        files.append(FileItem("env.production", str(under_root(str(env_file)))))
    secrets = _string(mastodon, "secrets_file", "mastodon.")
    if secrets:
        files.append(FileItem("secrets", str(under_root(secrets))))
    uploads = mastodon.get("uploads_dir", "public/system")
    exclude = mastodon.get("uploads_exclude", ["cache"])
    if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
        raise ConfigError("mastodon.uploads_exclude: must be a list of directory names "
                          "relative to uploads_dir")

    redis = _section(data, "redis")
    _unknown(redis, {"dump_file", "host", "port", "user", "password_file", "save_timeout"},
             "redis.")
    password_file = _string(redis, "password_file", "redis.")
    redis_server = RedisServer(
        host=str(_string(redis, "host", "redis.", RedisServer.host)),
        port=_int(redis, "port", "redis.", RedisServer.port, 1),
        user=_string(redis, "user", "redis."),
        password=_read_text(password_file, "redis.password_file").rstrip("\r\n")
        if password_file else None,
        save_timeout=_int(redis, "save_timeout", "redis.", RedisServer.save_timeout, 1))
    restore = _section(data, "restore")
    _unknown(restore, {"work_dir", "jobs"}, "restore.")
    return Config(
        target=target, key_file=str(key_file), key=key, database=database,
        files=tuple(files), uploads_dir=under_root(uploads) if uploads else None,
        uploads_exclude=tuple(e.strip("/") for e in exclude),
        redis_dump=_string(redis, "dump_file", "redis."), mastodon_root=root,
        retention=_retention(data),
        work_dir=str(_string(restore, "work_dir", "restore.", "/var/tmp")),  # noqa: S108 - files made 0600
        restore_jobs=_int(restore, "jobs", "restore.", 2, 1),
        lock_file=str(_string(data, "lock_file", "", DEFAULT_LOCK_FILE)),
        status_file=_string(data, "status_file", "", "/var/lib/herd/backup.status"),
        metrics_file=_string(data, "metrics_file", ""),
        source=source, redis=redis_server)


def load(path: str) -> Config:
    """Read and validate the file at `path` (YAML, or JSON when it ends in .json)."""
    text = _read_text(path, "--config")
    try:
        if path.endswith(".json"):
            data = json.loads(text)
        else:
            import yaml  # Debian's python3-yaml; only needed for YAML configs

            data = yaml.safe_load(text)
    except ValueError as error:  # json.JSONDecodeError and yaml.YAMLError's bases differ
        raise ConfigError(f"--config: {path} is not valid: {error}") from error
    except Exception as error:  # yaml.YAMLError: imported lazily, so caught broadly here
        raise ConfigError(f"--config: {path} is not valid YAML: {error}") from error
    return parse(data, path)

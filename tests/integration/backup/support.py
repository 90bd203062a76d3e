"""Pieces for the backup tests: a seeded Mastodon-like database and tree, a key, a
config per target, the CLI run as a real process, and a TCP proxy that can throttle or
drop the S3 endpoint mid-upload."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATABASE = "mastodon_production"
OWNER = "mastodon"
# Incompressible bytes in the dump, so that it spans several S3 parts (5 MiB each).
RANDOM_MIB = 12

SEED_SQL = """
CREATE TABLE accounts (id bigserial PRIMARY KEY, username text NOT NULL UNIQUE,
                       created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE users (id bigserial PRIMARY KEY, account_id bigint REFERENCES accounts (id),
                    email text);
CREATE TABLE statuses (id bigserial PRIMARY KEY, account_id bigint REFERENCES accounts (id),
                       text text, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX index_statuses_on_account_id ON statuses (account_id);
CREATE TABLE media_blobs (id serial PRIMARY KEY, data bytea);
INSERT INTO accounts (username) SELECT 'user' || g FROM generate_series(1, 500) g;
INSERT INTO users (account_id, email) SELECT g, 'user' || g || '@example.test'
  FROM generate_series(1, 500) g;
INSERT INTO statuses (account_id, text) SELECT 1 + g % 500, md5(g::text) || ' héllo ✓'
  FROM generate_series(1, 20000) g;
INSERT INTO media_blobs (data) SELECT decode(string_agg(md5(random()::text || g::text || s::text),
  ''), 'hex') FROM generate_series(1, @ROWS@) g, generate_series(1, 4096) s GROUP BY g;
""".replace("@ROWS@", str(RANDOM_MIB * 16))  # 64 KiB per row


@dataclass
class Site:
    """One Mastodon stand-in: database, files, key, and a config for a target."""

    pg: object
    root: Path
    key_file: Path
    tmp: Path
    database: str = DATABASE

    def config(self, target: dict, **overrides: object) -> Path:
        data = {
            "target": target,
            "key_file": str(self.key_file),
            "database": {"name": self.database, "owner": OWNER,
                         "host": self.pg.socket_dir, "port": self.pg.port,  # type: ignore[attr-defined]
                         "user": "postgres"},
            "mastodon": {"root": str(self.root), "secrets_file": "config/herd-secrets.yml"},
            "retention": {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 3},
            "restore": {"work_dir": str(self.tmp / "work"), "jobs": 2},
            "lock_file": str(self.tmp / "backup.lock"),
            "status_file": str(self.tmp / "backup.status"),
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}  # type: ignore[dict-item]
            else:
                data[key] = value
        (self.tmp / "work").mkdir(exist_ok=True)
        path = self.tmp / f"backup-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(data))
        return path

    def snapshot(self) -> dict[str, str]:
        """What a user would compare: schema, data of the tables, row counts."""
        pg = self.pg

        def dump(*args: str) -> str:
            # pg_dump 15.14+ writes a random \\restrict token per run: not data.
            text = pg.program(*args)  # type: ignore[attr-defined]
            return "\n".join(line for line in text.splitlines()
                             if not line.startswith(("\\restrict", "\\unrestrict")))

        return {
            "schema": dump("pg_dump", "--schema-only", "--no-owner", "-d", self.database),
            "data": dump("pg_dump", "--data-only", "--no-owner", "-t", "accounts", "-t",
                         "users", "-t", "statuses", "-t", "media_blobs", "-d", self.database),
            "counts": pg.psql("SELECT (SELECT count(*) FROM accounts), "  # type: ignore[attr-defined]
                              "(SELECT count(*) FROM statuses), "
                              "(SELECT count(*) FROM media_blobs)", self.database),
        }

    def files(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.root)): p.read_bytes()
                for p in sorted(self.root.rglob("*")) if p.is_file()}


# The interpreter running herd-backup: this venv by default; HERD_BACKUP_PYTHON=/usr/bin/python3
# runs the same tests against Debian's python3-boto3/-paramiko/-cryptography instead.
PYTHON = os.environ.get("HERD_BACKUP_PYTHON", sys.executable)


def run_cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """herd-backup as a user runs it: a separate process, exit code and stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    return subprocess.run([PYTHON, "-m", "herd.cli.backup", "--config", str(config),
                           *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def start_cli(config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    return subprocess.Popen([PYTHON, "-m", "herd.cli.backup", "--config", str(config),
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def listed(config: Path) -> list[dict]:
    result = run_cli(config, "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def seeded(postgres_server) -> object:
    """The source database, created once; tests that wipe it restore it themselves."""
    with contextlib.suppress(Exception):
        postgres_server.psql(f"CREATE ROLE {OWNER} LOGIN")
    postgres_server.psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    postgres_server.psql(f"CREATE DATABASE {DATABASE} OWNER {OWNER}")
    postgres_server.psql(f"SET ROLE {OWNER};" + SEED_SQL, DATABASE)
    return postgres_server


@pytest.fixture
def site(seeded, tmp_path) -> Site:
    root = tmp_path / "live"
    (root / "config").mkdir(parents=True)
    (root / ".env.production").write_text("LOCAL_DOMAIN=example.test\nSECRET_KEY_BASE=abc\n")
    (root / ".env.production").chmod(0o600)
    (root / "config" / "herd-secrets.yml").write_text("otp_secret: s3cr3t\n")
    media = root / "public/system/media_attachments/files/000/000/001/original"
    media.mkdir(parents=True)
    (media / "photo.jpg").write_bytes(os.urandom(300_000))
    (root / "public/system/accounts/avatars").mkdir(parents=True)
    (root / "public/system/accounts/avatars/a.png").write_bytes(b"\x89PNG avatar")
    cache = root / "public/system/cache/media_attachments/remote"
    cache.mkdir(parents=True)
    (cache / "remote.jpg").write_bytes(b"refetchable remote media")
    (root / "lib/mastodon").mkdir(parents=True)
    (root / "lib/mastodon/version.rb").write_text(
        "module Mastodon\n  module Version\n    module_function\n\n    def major\n      4\n"
        "    end\n\n    def minor\n      3\n    end\n\n    def patch\n      2\n    end\n"
        "  end\nend\n")
    key = tmp_path / "backup.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    key.chmod(0o600)
    return Site(pg=seeded, root=root, key_file=key, tmp=tmp_path)


@pytest.fixture
def s3_target(s3_server) -> dict:
    bucket = f"herd-{uuid.uuid4().hex[:10]}"
    s3_server.client().create_bucket(Bucket=bucket)
    return {"type": "s3", "bucket": bucket, "prefix": "backups/site", "path_style": True,
            "endpoint_url": s3_server.endpoint_url, "region": s3_server.region,
            "access_key_id": s3_server.access_key_id, "part_size_mib": 5,
            "secret_access_key": s3_server.secret_access_key, "timeout": 5}


@pytest.fixture
def sftp_target(sftp_server) -> dict:
    directory = Path(sftp_server.path) / uuid.uuid4().hex[:10]
    return {"type": "sftp", "host": sftp_server.host, "port": sftp_server.port,
            "user": sftp_server.user, "key_file": sftp_server.key_file,
            "known_hosts_line": sftp_server.known_hosts_line, "path": str(directory)}


class Proxy:
    """TCP relay in front of a server: optionally slow, and `kill()` drops everything
    at once, like an endpoint that dies (the server behind keeps its data)."""

    def __init__(self, upstream_port: int, bytes_per_second: int | None = None):
        self.upstream_port, self.rate = upstream_port, bytes_per_second
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        self.forwarded = 0
        self.dead = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.dead.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upload: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if upload:
                    self.forwarded += len(data)
                    if self.rate:
                        time.sleep(len(data) / self.rate)
                if self.dead.is_set():
                    return
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def kill(self) -> None:
        self.dead.set()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def proxy(s3_server) -> Iterator[Callable[..., Proxy]]:
    made: list[Proxy] = []

    def make(bytes_per_second: int | None = None) -> Proxy:
        made.append(Proxy(s3_server.port, bytes_per_second))
        return made[-1]

    yield make
    for item in made:
        item.kill()


def wait_for_line(stream, needle: str, timeout: float = 60) -> str:  # noqa: ANN001
    """Read a process's structured log until a line contains `needle`."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} never logged; got: {''.join(seen)[-2000:]}")

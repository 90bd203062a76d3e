"""Test harness for the stand-in's web and Sidekiq processes against real servers.

Used by tests/unit/test_standin_jobs.py and test_standin_media.py (not shipped in the
stand-in repository: build-repo.sh copies only tree/ and releases/). Everything listens
on loopback on free ports, lives in temp directories and is stopped by the context
managers. PostgreSQL comes from tests/integration/conftest.py's running_postgres().
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STANDIN = Path(__file__).resolve().parent
REPO = STANDIN.parents[2]

BOOT_ENV = {
    "RAILS_ENV": "production",
    "LOCAL_DOMAIN": "social.example.test",
    "SECRET_KEY_BASE": "a" * 128,
    "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY": "b" * 32,
    "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT": "c" * 32,
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY": "d" * 32,
    "VAPID_PRIVATE_KEY": "e" * 44,
    "VAPID_PUBLIC_KEY": "f" * 88,
}


def integration_servers() -> Any:
    """tests/integration/conftest.py as a module (its PostgreSQL and moto helpers)."""
    path = REPO / "tests" / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("herd_integration_servers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("herd_integration_servers", module)
    spec.loader.exec_module(module)
    return module


# A confirmed, approved local user with one access token (psql variables :'username',
# :'email', :'token', :'scopes'); the README quotes it for verify steps.
CREATE_USER_SQL = """
BEGIN;
INSERT INTO accounts (username, created_at, updated_at) VALUES (:'username', now(), now());
INSERT INTO users (email, account_id, confirmed_at, approved, created_at, updated_at)
  SELECT :'email', id, now(), true, now(), now() FROM accounts
  WHERE username = :'username' AND domain IS NULL;
INSERT INTO oauth_access_tokens (token, resource_owner_id, scopes, created_at)
  SELECT :'token', id, :'scopes', now() FROM users WHERE email = :'email';
COMMIT;
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise TimeoutError(f"{what} not reached after {timeout}s")


@contextlib.contextmanager
def running_redis(password: str = "standin-redis-password") -> Iterator[dict[str, str]]:  # noqa: S107
    """redis-server with a password (as the redis role requires), no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        import pytest

        pytest.skip("redis-server is not installed")
    base = Path(tempfile.mkdtemp(prefix="herd-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password,
         "--save", "", "--appendonly", "no", "--dir", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        integration_servers().wait_for_port(port, process)
        yield {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(port), "REDIS_PASSWORD": password}
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Instance:
    """One application root (a checkout) with its environment and processes."""

    root: Path
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def child_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("REDIS_", "SIDEKIQ_", "S3_", "AWS_", "DB_", "PG"))}
        return {**keep, **self.env, **(extra or {}), "PYTHONDONTWRITEBYTECODE": "1"}

    def cli(self, *argv: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(self.root / "lib" / "standin" / "cli.py"), *argv],
            cwd=self.root, env=self.child_env(extra), capture_output=True, text=True,
            timeout=120, check=False)

    def psql(self, sql: str, params: dict[str, Any] | None = None) -> str:
        sys.path.insert(0, str(self.root / "lib"))
        try:
            from standin.db import Database
        finally:
            sys.path.pop(0)
        return Database(self.env).run(sql, params)

    def start_web(self, extra: dict[str, str] | None = None) -> WebProcess:
        port = free_port()
        log = self.root / "log" / f"web-{port}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [sys.executable, str(self.root / "lib" / "standin" / "cli.py"), "web", "-C",
             "config/puma.rb"], cwd=self.root,
            env=self.child_env({"PORT": str(port), "BIND": "127.0.0.1", **(extra or {})}),
            stdout=handle, stderr=subprocess.STDOUT)
        handle.close()
        self.processes.append(process)
        web = WebProcess(port=port, process=process, log=log,
                         host=self.env["LOCAL_DOMAIN"])
        wait_until(lambda: web.alive_and_healthy(), 60, f"web on {port}")
        return web

    def start_sidekiq(self, *argv: str) -> SidekiqProcess:
        log = self.root / "log" / f"sidekiq-{len(self.processes)}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [sys.executable, str(self.root / "lib" / "standin" / "cli.py"), "sidekiq", *argv],
            cwd=self.root, env=self.child_env(), stdout=handle, stderr=subprocess.STDOUT)
        handle.close()
        self.processes.append(process)
        sidekiq = SidekiqProcess(process=process, log=log)
        wait_until(lambda: process.poll() is not None or "Booted" in sidekiq.output(), 60,
                   "sidekiq boot")
        assert process.poll() is None, sidekiq.output()
        return sidekiq

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.processes.clear()

    def create_user(self, username: str, scopes: str) -> str:
        """A confirmed, approved local user and an access token: the SQL a verify step
        can run too (a real Mastodon honours such a row as well)."""
        token = f"{username}-{os.urandom(16).hex()}"
        self.psql(CREATE_USER_SQL, {"username": username, "email": f"{username}@example.test",
                                    "token": token, "scopes": scopes})
        return token


@dataclass
class WebProcess:
    port: int
    process: subprocess.Popen
    log: Path
    host: str

    def alive_and_healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("web exited: " + self.log.read_text(errors="replace"))
        with contextlib.suppress(OSError):
            return self.request("GET", "/health").status == 200
        return False

    def request(self, method: str, path: str, token: str | None = None,
                body: bytes | None = None, content_type: str | None = None) -> Response:
        headers = {"Host": self.host, "X-Forwarded-Proto": "https"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            f"http://127.0.0.1:{self.port}{path}", data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return Response(answer.status, answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read())

    def post_json(self, path: str, payload: dict[str, Any], token: str | None) -> Response:
        return self.request("POST", path, token, json.dumps(payload).encode(),
                            "application/json")

    def upload(self, token: str | None, filename: str, data: bytes,
               field_name: str = "file", version: str = "v2") -> Response:
        boundary = "standinboundary" + os.urandom(8).hex()
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", f"/api/{version}/media", token, body,
                            f"multipart/form-data; boundary={boundary}")


@dataclass
class SidekiqProcess:
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def npm_packages() -> list[tuple[Path, str]]:
    """(tarball, path in a checkout) of each npm package the stand-in runs, as
    tools/setup.sh fetched them into .cache/npm/ (listed in npm-packages.txt)."""
    found = []
    for line in (STANDIN / "npm-packages.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, version, _integrity, path = line.split()
        tarball = REPO / ".cache" / "npm" / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        if not tarball.is_file():
            raise FileNotFoundError(f"{name}@{version} is missing ({tarball}): run tools/setup.sh")
        found.append((tarball, path))
    return found


def make_root(base: Path, release: str = "v4.6.5") -> Path:
    """A checkout of one release, as build-repo.sh lays it out."""
    root = base / f"live-{release}"
    shutil.copytree(STANDIN / "tree", root, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(STANDIN / "releases" / release, root, dirs_exist_ok=True)
    for tarball, path in npm_packages():
        with tarfile.open(tarball) as archive:
            members = archive.getmembers()
            for member in members:
                member.name = member.name.partition("/")[2]  # package/x -> x
            archive.extractall(root / path, [m for m in members if m.name], filter="data")
    return root


@contextlib.contextmanager
def instance(base: Path, postgres: Any, redis_env: dict[str, str], database: str,
             extra: dict[str, str] | None = None, release: str = "v4.6.5",
             setup: bool = True) -> Iterator[Instance]:
    """An app root (its own checkout under `base`, as another host would have) with the
    given settings; `setup` runs bin/rails db:setup on the (new) database."""
    env = {**BOOT_ENV, "DB_HOST": postgres.socket_dir, "DB_PORT": str(postgres.port),
           "DB_USER": postgres.user, "DB_NAME": database, **redis_env, **(extra or {})}
    base.mkdir(parents=True, exist_ok=True)
    app = Instance(root=make_root(base, release), env=env)
    if setup:
        done = app.cli("rails", "db:setup")
        assert done.returncode == 0, done.stderr
    try:
        yield app
    finally:
        app.stop()

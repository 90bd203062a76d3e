"""Real servers on loopback, started by the tests themselves: PostgreSQL, moto_server
(S3) and OpenSSH (SFTP). Shared by every integration test; each fixture cleans up.

The tests run as root in CI: PostgreSQL then runs as the `postgres` system user
(runuser), in a fresh cluster on a free port with its socket in a private directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_ROOT = Path("/usr/lib/postgresql")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen | None = None,
                  timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _pg_bin() -> Path:
    versions = sorted((p for p in PG_ROOT.glob("*/bin/initdb")), key=lambda p: int(p.parts[-3]))
    if not versions:
        pytest.skip("PostgreSQL server binaries are not installed")
    return versions[-1].parent


@dataclass
class PostgresServer:
    """A throwaway cluster; connect with host=socket_dir, port, user=postgres."""

    bin: Path
    data: Path
    socket_dir: str
    port: int
    user: str = "postgres"
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data.parent / "postgres.log"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PGHOST": self.socket_dir, "PGPORT": str(self.port),
                "PGUSER": self.user}

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        subprocess.run([*_as_postgres(), str(self.bin / "pg_ctl"), "-D", str(self.data),
                        "-o", options, "-l", str(self.log), "-w", "-t", "30", "start"],
                       check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run([*_as_postgres(), str(self.bin / "pg_ctl"), "-D", str(self.data),
                        "-m", "immediate", "-w", "stop"], check=False, capture_output=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [str(self.bin / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database,
             "-c", sql], env=self.env, check=True, capture_output=True, text=True)
        return result.stdout.strip()

    def program(self, name: str, *args: str) -> str:
        """Run a client program (pg_dump, createdb, ...) against this cluster."""
        result = subprocess.run([str(self.bin / name), *args], env=self.env, check=True,
                                capture_output=True, text=True)
        return result.stdout


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A fresh cluster for the duration of the block (also used by scripts/bench_*.py)."""
    bin_dir = _pg_bin()
    # Not pytest's tmp dir: it is 0700 root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="herd-pg-"))
    base.chmod(0o755)
    data, sockets = base / "data", base / "socket"
    data.mkdir(mode=0o700)
    sockets.mkdir(mode=0o755)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    subprocess.run([*_as_postgres(), str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                    "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"],
                   check=True, capture_output=True)
    server = PostgresServer(bin=bin_dir, data=data, socket_dir=str(sockets), port=free_port())
    if os.geteuid() == 0:
        server.log.touch()
        shutil.chown(server.log, "postgres", "postgres")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@dataclass
class S3Server:
    endpoint_url: str
    port: int
    process: subprocess.Popen
    access_key_id: str = "testing"
    secret_access_key: str = "testing"
    region: str = "us-east-1"

    def client(self):  # noqa: ANN201 - a boto3 client
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key)


def _moto_server() -> str:
    candidate = Path(sys.executable).parent / "moto_server"
    found = str(candidate) if candidate.exists() else shutil.which("moto_server")
    if not found:
        pytest.skip("moto_server (moto[server]) is not installed")
    return found


@contextlib.contextmanager
def running_s3() -> Iterator[S3Server]:
    """moto_server on a free loopback port for the duration of the block."""
    port = free_port()
    process = subprocess.Popen([_moto_server(), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield S3Server(endpoint_url=f"http://127.0.0.1:{port}", port=port, process=process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with running_s3() as server:
        yield server


@dataclass
class SftpServer:
    host: str
    port: int
    user: str
    key_file: str
    known_hosts_line: str
    path: str
    process: subprocess.Popen


@pytest.fixture(scope="session")
def sftp_server() -> Iterator[SftpServer]:
    sshd = Path("/usr/sbin/sshd")
    if not sshd.exists() or os.geteuid() != 0:
        pytest.skip("needs Debian's openssh-server and root (sshd drops privileges)")
    base = Path(tempfile.mkdtemp(prefix="herd-sftp-"))
    host_key, client_key = base / "host_ed25519", base / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    authorized = base / "authorized_keys"
    authorized.write_text((base / "client_ed25519.pub").read_text())
    authorized.chmod(0o600)
    storage = base / "storage"
    storage.mkdir()
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1:{port}\n"
        f"HostKey {host_key}\n"
        f"PidFile {base / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "Subsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    process = subprocess.Popen([str(sshd), "-D", "-e", "-f", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        public = (base / "host_ed25519.pub").read_text().split()
        yield SftpServer(host="127.0.0.1", port=port, user="root", key_file=str(client_key),
                         known_hosts_line=f"[127.0.0.1]:{port} {public[0]} {public[1]}",
                         path=str(storage), process=process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        shutil.rmtree(base, ignore_errors=True)

"""Redis' dump.rdb is backed up fresh: herd runs BGSAVE and waits for LASTSAVE to move
before copying it, against a real redis-server on loopback; a save that fails or does
not finish stops the backup with a clear error instead of uploading a stale file."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from support import listed, run_cli

pytestmark = pytest.mark.integration

COMMAND = 3
PASSWORD = "redis-test-password-#$'\"-✓"


class Redis:
    def __init__(self, directory: Path, port: int, password: str | None = None):
        self.dir, self.port, self.password = directory, port, password
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir",
                str(directory), "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no",
                # CONFIG SET dir below: how the failing-save drill breaks the disk.
                "--enable-protected-configs", "yes"]
        if password:
            args += ["--requirepass", password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.cli("PING") != "PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)

    def cli(self, *args: str) -> str:
        auth = ["--no-auth-warning", "-a", self.password] if self.password else []
        done = subprocess.run(["redis-cli", "-p", str(self.port), *auth, *args],
                              capture_output=True, text=True, check=False)
        return done.stdout.strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("needs Debian's redis-server")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = Redis(directory, free_port(), PASSWORD)
    yield server
    server.stop()


def redis_config(site, tmp_path, redis, **extra):
    password = tmp_path / "redis-password"
    password.write_text(PASSWORD + "\n")
    return site.config({"type": "local", "path": str(tmp_path / "store")}, redis={
        "dump_file": str(redis.dir / "dump.rdb"), "port": redis.port,
        "password_file": str(password), **extra})


def test_backup_holds_what_redis_had_when_the_backup_ran(site, tmp_path, redis):
    redis.cli("SET", "old", "saved by an earlier snapshot")
    assert redis.cli("SAVE") == "OK"
    redis.cli("SET", "queued", "a Sidekiq job enqueued after the last snapshot")
    config = redis_config(site, tmp_path, redis)

    made = run_cli(config, "backup")
    assert made.returncode == 0, made.stderr
    [backup] = listed(config)
    assert "redis.rdb.gz" in {p["name"] for p in backup["parts"]}

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    back = site.config({"type": "local", "path": str(tmp_path / "store")},
                       redis={"dump_file": str(restored_dir / "dump.rdb")})
    done = run_cli(back, "restore", "--parts", "redis")
    assert done.returncode == 0, done.stderr
    copy = Redis(restored_dir, free_port())
    try:
        assert copy.cli("GET", "queued") == "a Sidekiq job enqueued after the last snapshot"
        assert copy.cli("GET", "old") == "saved by an earlier snapshot"
    finally:
        copy.stop()


def test_a_failing_bgsave_stops_the_backup(site, tmp_path, redis):
    redis.cli("SET", "queued", "job")
    redis.cli("SAVE")
    gone = tmp_path / "gone"
    gone.mkdir()
    assert redis.cli("CONFIG", "SET", "dir", str(gone)) == "OK"
    gone.rmdir()  # the child cannot write its temporary file any more
    config = redis_config(site, tmp_path, redis)

    result = run_cli(config, "backup")
    assert result.returncode == COMMAND, result.stderr
    assert "BGSAVE failed" in result.stderr and "Traceback" not in result.stderr
    assert listed(config) == []


def test_a_bgsave_that_does_not_finish_in_time_stops_the_backup(site, tmp_path, redis):
    for number in range(10):
        redis.cli("SET", f"key{number}", "value")
    redis.cli("CONFIG", "SET", "rdb-key-save-delay", "1000000")  # 1 s per key
    config = redis_config(site, tmp_path, redis, save_timeout=3)

    result = run_cli(config, "backup")
    assert result.returncode == COMMAND, result.stderr
    assert "did not finish within 3 s" in result.stderr and "redis.save_timeout" in result.stderr
    assert listed(config) == []


def test_a_wrong_redis_password_is_named(site, tmp_path, redis):
    config = redis_config(site, tmp_path, redis)
    (tmp_path / "redis-password").write_text("wrong\n")
    result = run_cli(config, "backup")
    assert result.returncode == 2, result.stderr
    assert "redis.password_file" in result.stderr and "Traceback" not in result.stderr

"""A fresh Redis snapshot before dump.rdb is copied: BGSAVE, then wait until LASTSAVE
moves on (the file on disk is otherwise as old as the last scheduled save, up to an
hour with Debian's defaults, and may lose Sidekiq's queued jobs).

Speaks RESP over one socket: no client library needed on the host."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from herd.errors import CommandFailed, ConfigError, HerdError
from herd.log import StepLog

POLL_SECONDS = 0.2


class RedisFailed(HerdError):  # noqa: N818 - reads as what happened
    """Redis did not produce a snapshot: the backup stops before uploading an old one."""

    exit_code = CommandFailed.exit_code


class Connection:
    def __init__(self, host: str, port: int, timeout: float):
        self.where = f"redis {host}:{port}"
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            raise RedisFailed(f"{self.where}: cannot connect ({error}); is redis-server "
                              "running? (redis.host, redis.port)") from error
        self.reader = self.sock.makefile("rb")

    def command(self, *args: str) -> bytes | int | list[object] | None:
        encoded = [arg.encode() for arg in args]
        request = b"*%d\r\n" % len(encoded) + b"".join(
            b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in encoded)
        try:
            self.sock.sendall(request)
            return self._reply(args[0])
        except OSError as error:
            raise RedisFailed(f"{self.where}: {args[0]} failed: {error}") from error

    def _reply(self, name: str) -> bytes | int | list[object] | None:
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise RedisFailed(f"{self.where}: connection closed during {name}")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body
        if kind == b"-":
            raise ReplyError(body.decode(errors="replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            return None if size < 0 else self.reader.read(size + 2)[:-2]
        if kind == b"*":
            return [self._reply(name) for _ in range(max(int(body), 0))]
        raise RedisFailed(f"{self.where}: not a Redis reply to {name}: {line[:40]!r}")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class ReplyError(Exception):
    """An error reply (-ERR ...) from Redis."""


def _info(redis: Connection) -> dict[str, str]:
    text = redis.command("INFO", "persistence")
    assert isinstance(text, bytes)  # noqa: S101 - INFO replies with a bulk string
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)


def snapshot(host: str, port: int, user: str | None, password: str | None, timeout: float,
             log: StepLog, clock: Callable[[], float] = time.time) -> int:
    """Run BGSAVE and wait until LASTSAVE is newer than before; returns the new LASTSAVE."""
    redis = Connection(host, port, timeout=min(timeout, 30))
    try:
        if password:
            try:
                redis.command("AUTH", *([user] if user else []), password)
            except ReplyError as error:
                raise ConfigError(f"redis.password_file: {redis.where} refused the login "
                                  f"({error}); set the password (and redis.user) Mastodon "
                                  "uses") from error
        deadline = time.monotonic() + timeout
        _wait_idle(redis, deadline, timeout)
        before = redis.command("LASTSAVE")
        assert isinstance(before, int)  # noqa: S101 - LASTSAVE replies with an integer
        # LASTSAVE counts whole seconds: a save ending in the same second as the last
        # one would not be seen, so start in a later second.
        while clock() < before + 1:
            time.sleep(POLL_SECONDS)
        try:
            redis.command("BGSAVE")
        except ReplyError as error:
            if "NOAUTH" in str(error) or "NOPERM" in str(error):
                raise ConfigError(f"redis.password_file: {redis.where} refused BGSAVE "
                                  f"({error}); set the password (and redis.user) of a user "
                                  "allowed to run BGSAVE") from error
            raise RedisFailed(f"{redis.where}: BGSAVE refused: {error}") from error
        log.step("redis bgsave", redis=redis.where, lastsave_before=before)
        while True:
            last = redis.command("LASTSAVE")
            assert isinstance(last, int)  # noqa: S101
            if last > before:
                return last
            info = _info(redis)
            if info.get("rdb_bgsave_in_progress") == "0" and \
                    info.get("rdb_last_bgsave_status") == "err":
                raise RedisFailed(f"{redis.where}: BGSAVE failed (rdb_last_bgsave_status:err; "
                                  "redis-server's log says why, often a full disk or the "
                                  "permissions of its dir); dump.rdb is not backed up stale")
            if time.monotonic() > deadline:
                raise RedisFailed(f"{redis.where}: BGSAVE did not finish within {timeout:g} "
                                  "s (LASTSAVE unchanged); raise redis.save_timeout or look at "
                                  "redis-server's log")
            time.sleep(POLL_SECONDS)
    except ReplyError as error:
        raise RedisFailed(f"{redis.where}: {error}") from error
    finally:
        redis.close()


def _wait_idle(redis: Connection, deadline: float, timeout: float) -> None:
    """A save already running started before our data: wait for it, then save again."""
    while _info(redis).get("rdb_bgsave_in_progress") == "1":
        if time.monotonic() > deadline:
            raise RedisFailed(f"{redis.where}: a BGSAVE already running did not finish "
                              f"within {timeout:g} s; raise redis.save_timeout")
        time.sleep(POLL_SECONDS)

"""A tiny Redis client (RESP2 over a socket), enough for Sidekiq's queues and the feeds.

Hosts get no Redis driver: the stand-in speaks the protocol itself. Connection settings
follow upstream's lib/mastodon/redis_configuration.rb (1440d55b):
- `REDIS_URL` wins (l.40, l.47); otherwise REDIS_HOST (default localhost, l.5),
  REDIS_PORT (6379, l.6), REDIS_DB (0, l.7), REDIS_USER, REDIS_PASSWORD (l.41-45) build
  `redis://user:password@host:port/db` (construct_uri, l.84-91).
- Sidekiq uses the same set prefixed `SIDEKIQ_` (l.14-16); when the prefixed host is
  missing the base settings are used (l.59-65). Sentinels (l.68-82) are not supported:
  the stand-in refuses to guess and raises.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit


class RedisError(Exception):
    """Connection refused, authentication failed, or an error reply (-ERR ...)."""


@dataclass(frozen=True)
class RedisSettings:
    host: str = "localhost"
    port: int = 6379
    db: int = 0
    user: str | None = None
    password: str | None = None

    def describe(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.db}"


def _from_url(url: str) -> RedisSettings:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RedisError(f"unsupported Redis URL scheme {parts.scheme!r}")
    if parts.scheme == "rediss":
        raise RedisError("rediss:// (TLS) is not supported by the stand-in")
    path = parts.path.strip("/")
    return RedisSettings(
        host=parts.hostname or "localhost", port=parts.port or 6379,
        db=int(path) if path.isdigit() else 0,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None)


def settings(env: dict[str, str], prefix: str = "") -> RedisSettings:
    """Upstream's setup_config(prefix:): prefix '' is the base, 'SIDEKIQ_' Sidekiq's."""
    key = f"{prefix}REDIS_"
    if env.get(f"{key}SENTINEL_MASTER") and env.get(f"{key}SENTINELS"):
        raise RedisError(f"{key}SENTINELS: Redis Sentinel is not supported by the stand-in")
    url = env.get(f"{key}URL") or None
    if url:
        return _from_url(url)
    host = env.get(f"{key}HOST") or ("localhost" if not prefix else "")
    if not host:
        # No prefixed host: upstream falls back to the base configuration (l.59-65).
        return settings(env)
    port = env.get(f"{key}PORT") or "6379"
    db = env.get(f"{key}DB") or "0"
    return RedisSettings(host=host, port=int(port), db=int(db),
                         user=env.get(f"{key}USER") or None,
                         password=env.get(f"{key}PASSWORD") or None)


class Redis:
    """One connection; not thread-safe (each thread opens its own)."""

    def __init__(self, config: RedisSettings, timeout: float = 5.0) -> None:
        self.config = config
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    # -- connection ------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.config.host, self.config.port), self.timeout)
        except OSError as error:
            raise RedisError(f"cannot connect to {self.config.describe()}: {error}") from error
        self._sock, self._buffer = sock, b""
        if self.config.password is not None:
            auth = ["AUTH", self.config.password]
            if self.config.user:
                auth.insert(1, self.config.user)
            self._roundtrip(auth)
        if self.config.db:
            self._roundtrip(["SELECT", str(self.config.db)])
        return sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buffer = None, b""

    # -- protocol --------------------------------------------------------------------
    @staticmethod
    def _encode(args: list[Any]) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            raw = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
        return b"".join(out)

    def _fill(self) -> None:
        assert self._sock is not None
        chunk = self._sock.recv(65536)
        if not chunk:
            raise RedisError("connection closed by the Redis server")
        self._buffer += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            self._fill()
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _read(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self._buffer) < size + 2:
                self._fill()
            data, self._buffer = self._buffer[:size], self._buffer[size + 2:]
            return data
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise RedisError(f"unexpected reply from Redis: {line[:40]!r}")

    def _roundtrip(self, args: list[Any], timeout: float | None = None) -> Any:
        assert self._sock is not None
        self._sock.settimeout(timeout if timeout is not None else self.timeout)
        self._sock.sendall(self._encode(args))
        return self._read()

    def command(self, *args: Any, timeout: float | None = None) -> Any:
        """Send one command and return its decoded reply (bulk strings stay bytes)."""
        if self._sock is None:
            self._connect()
        try:
            return self._roundtrip(list(args), timeout)
        except RedisError as error:
            if "connection closed" in str(error):
                self.close()
            raise
        except OSError as error:
            self.close()
            raise RedisError(f"Redis {self.config.describe()}: {error}") from error

    def pipeline(self, *commands: list[Any]) -> list[Any]:
        """Several commands in one write, like the Ruby client's `pipelined` block."""
        if self._sock is None:
            self._connect()
        assert self._sock is not None
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(b"".join(self._encode(list(c)) for c in commands))
            replies: list[Any] = []
            failure: RedisError | None = None
            for _ in commands:
                try:
                    replies.append(self._read())
                except RedisError as error:
                    failure = failure or error
            if failure:
                raise failure
            return replies
        except OSError as error:
            self.close()
            raise RedisError(f"Redis {self.config.describe()}: {error}") from error

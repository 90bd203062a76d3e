"""Chunked authenticated encryption of a stream (AES-256-GCM per chunk).

Stream format (version 1)::

    header  = b"HERDENC1" | chunk_size (4 bytes, big endian) | prefix (8 random bytes)
    records = one per chunk of `chunk_size` plaintext bytes (the last may be shorter,
              possibly empty), each `ciphertext || 16-byte tag`

Each record's nonce is the per-stream random prefix followed by the chunk counter, so
no nonce repeats under one key, and the associated data is the header plus a final
flag. Reordering changes the nonce, truncation at a record boundary leaves a stream
with no final record, appending after the final record is refused: all three fail
authentication, like a wrong key does.
"""

import base64
import hashlib
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from herd.errors import ConfigError, IntegrityError

MAGIC = b"HERDENC1"
CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
PREFIX_SIZE = 8
HEADER = struct.Struct(">8sI8s")
KEY_SIZE = 32


def load_key(path: str) -> bytes:
    """The 32-byte key from a file holding it base64-encoded (one line)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except OSError as error:
        raise ConfigError(f"key_file: cannot read {path} ({error.strerror}); create it with "
                          "`head -c 32 /dev/urandom | base64 > FILE` and chmod 0600") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"key_file: {path} is not base64 text; it must hold 32 random "
                          "bytes, base64-encoded") from error
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError as error:
        raise ConfigError(f"key_file: {path} is not valid base64; it must hold 32 random "
                          "bytes, base64-encoded") from error
    if len(key) != KEY_SIZE:
        raise ConfigError(f"key_file: {path} decodes to {len(key)} bytes, expected "
                          f"{KEY_SIZE}; generate one with `head -c 32 /dev/urandom | base64`")
    return key


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key, stored in manifests to name the key used."""
    return hashlib.sha256(b"herd-backup-key-id\0" + key).hexdigest()[:16]


def _nonce(prefix: bytes, counter: int) -> bytes:
    return prefix + struct.pack(">I", counter)


def _aad(header: bytes, final: bool) -> bytes:
    return header + (b"\x01" if final else b"\x00")


class Encryptor:
    """Push-style encryption: `write` plaintext, `close` once; ciphertext goes to `sink`."""

    def __init__(self, key: bytes, sink: Callable[[bytes], None], chunk_size: int = CHUNK_SIZE):
        self._aead = AESGCM(key)
        self._sink = sink
        self._chunk_size = chunk_size
        self._prefix = os.urandom(PREFIX_SIZE)
        self._header = HEADER.pack(MAGIC, chunk_size, self._prefix)
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        sink(self._header)

    def write(self, data: bytes) -> None:
        self._buffer += data
        # Keep at least one byte back: only `close` knows which chunk is the final one.
        while len(self._buffer) > self._chunk_size:
            chunk = bytes(self._buffer[: self._chunk_size])
            del self._buffer[: self._chunk_size]
            self._emit(chunk, final=False)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._emit(bytes(self._buffer), final=True)
            self._buffer.clear()

    def _emit(self, chunk: bytes, final: bool) -> None:
        if self._counter >= 2**32 - 1:
            raise IntegrityError("stream too long for one encryption prefix (4 PiB)")
        nonce = _nonce(self._prefix, self._counter)
        self._counter += 1
        self._sink(self._aead.encrypt(nonce, chunk, _aad(self._header, final)))


class _Reader:
    """Exact-size reads over an iterator of byte strings."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._buffer = bytearray()

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def decrypt(key: bytes, ciphertext: Iterable[bytes], what: str) -> Iterator[bytes]:
    """Pull-style decryption of a stream made by Encryptor; IntegrityError on any tampering.

    `what` names the part in error messages.
    """
    aead = AESGCM(key)
    reader = _Reader(ciphertext)
    header = reader.read(HEADER.size)
    if len(header) < HEADER.size:
        raise IntegrityError(f"{what}: truncated (no complete encryption header)")
    magic, chunk_size, prefix = HEADER.unpack(header)
    if magic != MAGIC:
        raise IntegrityError(f"{what}: not a herd-encrypted stream (bad magic)")
    if not 0 < chunk_size <= 64 * 1024 * 1024:
        raise IntegrityError(f"{what}: implausible chunk size {chunk_size}")
    record_size = chunk_size + TAG_SIZE
    counter = 0
    record = reader.read(record_size)
    while True:
        # A full-size record may or may not be the last: look one record ahead.
        following = reader.read(record_size) if len(record) == record_size else b""
        final = not following
        if len(record) < TAG_SIZE:
            raise IntegrityError(f"{what}: truncated record {counter}")
        try:
            plain = aead.decrypt(_nonce(prefix, counter), record, _aad(header, final))
        except InvalidTag:
            if counter == 0:
                raise IntegrityError(
                    f"{what}: cannot decrypt the first chunk: wrong key_file for this backup, "
                    "or the part is corrupted") from None
            raise IntegrityError(
                f"{what}: chunk {counter} failed authentication: the part is corrupted, "
                "truncated or reordered") from None
        if plain:
            yield plain
        if final:
            return
        counter += 1
        record = following

"""Small streaming stages joined into one pipeline per part, with bounded memory.

Writing (push): producer -> Count(plain) -> [gzip] -> Encryptor -> Count(stored) -> target.
Reading (pull): target -> Count(stored) -> decrypt -> Count(plain) -> [gunzip] -> consumer.
"""

import hashlib
import io
import zlib
from collections.abc import Callable, Iterable, Iterator

GZIP_LEVEL = 3  # fast: uploads are mostly already-compressed images and videos


class Digest:
    """Running size and sha256 of the bytes that pass through."""

    def __init__(self) -> None:
        self.size = 0
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self.size += len(data)
        self._hash.update(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class Tee:
    """A write-only file object: each write is counted, then handed to `sink`."""

    def __init__(self, sink: Callable[[bytes], object], digest: Digest | None = None,
                 progress: Callable[[int], None] | None = None):
        self._sink, self.digest, self._progress = sink, digest or Digest(), progress

    def write(self, data: bytes) -> int:
        if data:
            self.digest.update(data)
            self._sink(bytes(data))
            if self._progress:
                self._progress(self.digest.size)
        return len(data)

    def flush(self) -> None:
        pass


class Gzip:
    """Push-style gzip compression (a gzip member, readable by `gunzip`)."""

    def __init__(self, sink: Callable[[bytes], object], level: int = GZIP_LEVEL):
        self._sink = sink
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> None:
        out = self._compressor.compress(data)
        if out:
            self._sink(out)

    def close(self) -> None:
        self._sink(self._compressor.flush())


def counted(chunks: Iterable[bytes], digest: Digest) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(31)
    for chunk in chunks:
        out = decompressor.decompress(chunk, 1024 * 1024)
        while out:
            yield out
            out = decompressor.decompress(decompressor.unconsumed_tail, 1024 * 1024)
    tail = decompressor.flush()
    if tail:
        yield tail
    if not decompressor.eof:
        raise zlib.error("gzip stream ended early")


class IterReader(io.RawIOBase):
    """A readable file object over an iterator of byte strings (for tarfile)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        while not len(self._pending):
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]  # a view: no copy of the rest
        return size

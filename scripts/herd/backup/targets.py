"""Where backups go: S3-compatible object storage, SFTP, or a local directory.

All three offer the same small interface. A part is written through a PartWriter
that either commits (the object appears whole) or aborts (nothing of it remains,
best effort), so an interrupted backup never leaves a complete-looking part.
Memory is bounded: S3 buffers one part (part_size), SFTP and local stream.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from herd.backup.config import LocalTarget, S3Target, SftpTarget, Target
from herd.errors import ConfigError, StorageError

READ_SIZE = 1024 * 1024


class PartWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class Store(Protocol):
    description: str

    def open_writer(self, name: str) -> PartWriter: ...
    def read(self, name: str) -> Iterator[bytes]: ...
    def put(self, name: str, data: bytes) -> None: ...
    def get(self, name: str) -> bytes | None: ...
    def backup_ids(self) -> list[str]: ...
    def names(self, backup_id: str) -> list[str]: ...
    def delete_backup(self, backup_id: str) -> None: ...
    def abort_uploads(self) -> list[str]: ...
    def close(self) -> None: ...


def open_store(target: Target) -> Store:
    if isinstance(target, S3Target):
        return S3Store(target)
    if isinstance(target, SftpTarget):
        return SftpStore(target)
    return LocalStore(target)


# --- local directory -------------------------------------------------------------


class _LocalWriter:
    def __init__(self, path: Path):
        self._final = path
        self._partial = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._file = self._partial.open("wb")

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as error:
            raise StorageError(f"writing {self._partial}: {error.strerror}") from error

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._partial.rename(self._final)

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


class LocalStore:
    def __init__(self, target: LocalTarget):
        self.root = Path(target.path)
        self.description = f"local:{self.root}"

    def open_writer(self, name: str) -> PartWriter:
        return _LocalWriter(self.root / name)

    def read(self, name: str) -> Iterator[bytes]:
        try:
            with (self.root / name).open("rb") as file:
                while chunk := file.read(READ_SIZE):
                    yield chunk
        except OSError as error:
            raise StorageError(f"reading {self.root / name}: {error.strerror}") from error

    def put(self, name: str, data: bytes) -> None:
        writer = _LocalWriter(self.root / name)
        writer.write(data)
        writer.commit()

    def get(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:  # a directory, or unreadable, where a manifest belongs
            raise StorageError(f"reading {self.root / name}: {error.strerror}") from error

    def backup_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def names(self, backup_id: str) -> list[str]:
        return sorted(p.name for p in (self.root / backup_id).iterdir())

    def delete_backup(self, backup_id: str) -> None:
        shutil.rmtree(self.root / backup_id, ignore_errors=True)

    def abort_uploads(self) -> list[str]:
        return []  # a dead run's .partial files sit in its directory: prune sees them

    def close(self) -> None:
        pass


# --- S3 ----------------------------------------------------------------------------


def _s3_error(action: str, error: Exception) -> StorageError:
    return StorageError(f"S3 {action} failed: {error}")


class _S3Writer:
    """Multipart upload with a fixed part size; one part in memory at a time."""

    def __init__(self, store: S3Store, key: str):
        self._store, self._key = store, key
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self._store.part_size:
            self._upload_part(bytes(self._buffer[: self._store.part_size]))
            del self._buffer[: self._store.part_size]

    def _upload_part(self, body: bytes) -> None:
        client, bucket = self._store.client, self._store.bucket
        try:
            if self._upload_id is None:
                self._upload_id = client.create_multipart_upload(
                    Bucket=bucket, Key=self._key)["UploadId"]
            number = len(self._parts) + 1
            response = client.upload_part(Bucket=bucket, Key=self._key, PartNumber=number,
                                          UploadId=self._upload_id, Body=body)
        except self._store.errors as error:
            raise _s3_error(f"upload of {self._key}", error) from error
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def commit(self) -> None:
        client, bucket = self._store.client, self._store.bucket
        try:
            if self._upload_id is None:
                # Smaller than one part: a plain PUT is atomic too.
                client.put_object(Bucket=bucket, Key=self._key, Body=bytes(self._buffer))
                return
            if self._buffer:
                self._upload_part(bytes(self._buffer))
                self._buffer.clear()
            client.complete_multipart_upload(
                Bucket=bucket, Key=self._key, UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts})
        except self._store.errors as error:
            raise _s3_error(f"upload of {self._key}", error) from error

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is not None:
            # Best effort: the endpoint may be the thing that failed. A bucket lifecycle
            # rule (AbortIncompleteMultipartUpload) cleans up what is left.
            with contextlib.suppress(*self._store.errors):
                self._store.client.abort_multipart_upload(
                    Bucket=self._store.bucket, Key=self._key, UploadId=self._upload_id)


class S3Store:
    def __init__(self, target: S3Target):
        import boto3
        import botocore.config
        import botocore.exceptions

        self.bucket, self.prefix, self.part_size = target.bucket, target.prefix, target.part_size
        self.description = f"s3://{target.bucket}/{target.prefix}"
        self.errors: tuple[type[Exception], ...] = (
            botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
        config = botocore.config.Config(
            connect_timeout=min(target.timeout, 30), read_timeout=target.timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path" if target.path_style else "auto"})
        try:
            self.client = boto3.session.Session().client(
                "s3", endpoint_url=target.endpoint_url, region_name=target.region,
                aws_access_key_id=target.access_key_id,
                aws_secret_access_key=target.secret_access_key, config=config)
        except (ValueError, botocore.exceptions.BotoCoreError) as error:
            # What config.py's checks let through and botocore still refuses.
            raise ConfigError(f"target.endpoint_url / target.region: {error}") from error

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def open_writer(self, name: str) -> PartWriter:
        return _S3Writer(self, self._key(name))

    def read(self, name: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
            while chunk := body.read(READ_SIZE):
                yield chunk
        except self.errors as error:
            raise _s3_error(f"download of {self._key(name)}", error) from error

    def put(self, name: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)
        except self.errors as error:
            raise _s3_error(f"upload of {self._key(name)}", error) from error

    def get(self, name: str) -> bytes | None:
        import botocore.exceptions

        try:
            body: bytes = self.client.get_object(
                Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise _s3_error(f"download of {self._key(name)}", error) from error
        except self.errors as error:
            raise _s3_error(f"download of {self._key(name)}", error) from error
        return body

    def _list(self, prefix: str, delimiter: bool) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = "/"
        try:
            yield from paginator.paginate(**kwargs)
        except self.errors as error:
            raise _s3_error(f"listing {self.description}", error) from error

    def backup_ids(self) -> list[str]:
        base = self._key("")
        ids = []
        for page in self._list(base, delimiter=True):
            for common in page.get("CommonPrefixes", []):
                ids.append(common["Prefix"][len(base):].rstrip("/"))
        return sorted(ids)

    def names(self, backup_id: str) -> list[str]:
        base = self._key(backup_id + "/")
        return sorted(item["Key"][len(base):] for page in self._list(base, delimiter=False)
                      for item in page.get("Contents", []))

    def delete_backup(self, backup_id: str) -> None:
        keys = [self._key(f"{backup_id}/{name}") for name in self.names(backup_id)]
        # The manifest goes first: a backup being deleted must stop looking complete.
        keys.sort(key=lambda key: not key.endswith("/manifest.json"))
        try:
            for key in keys:
                self.client.delete_object(Bucket=self.bucket, Key=key)
            uploads = self.client.list_multipart_uploads(
                Bucket=self.bucket, Prefix=self._key(backup_id + "/"))
            for upload in uploads.get("Uploads", []):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        except self.errors as error:
            raise _s3_error(f"deleting {backup_id}", error) from error

    def abort_uploads(self) -> list[str]:
        """Abort every unfinished multipart upload under the prefix. Only called with the
        lock held, when no run of this host is uploading: they belong to dead runs (one
        killed during its first part has no object yet, so no backup id lists it)."""
        paginator = self.client.get_paginator("list_multipart_uploads")
        aborted = []
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key("")):
                for upload in page.get("Uploads", []):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    aborted.append(upload["Key"])
        except self.errors as error:
            raise _s3_error(f"aborting dead uploads in {self.description}", error) from error
        return aborted

    def close(self) -> None:
        self.client.close() if hasattr(self.client, "close") else None


# --- SFTP --------------------------------------------------------------------------


class _SftpWriter:
    def __init__(self, store: SftpStore, path: str):
        self._store, self._final = store, path
        self._partial = path + ".partial"
        store.makedirs(path.rsplit("/", 1)[0])
        try:
            self._file = store.sftp.open(self._partial, "wb")
            self._file.set_pipelined(True)  # don't wait for each write's reply
        except OSError as error:
            raise StorageError(f"SFTP open {self._partial}: {error}") from error

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except (OSError, EOFError) as error:
            raise StorageError(f"SFTP write {self._partial}: {error}") from error

    def commit(self) -> None:
        try:
            self._file.close()
            self._store.sftp.posix_rename(self._partial, self._final)
        except (OSError, EOFError) as error:
            raise StorageError(f"SFTP commit {self._final}: {error}") from error

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        with contextlib.suppress(Exception):
            self._store.sftp.remove(self._partial)


class SftpStore:
    def __init__(self, target: SftpTarget):
        import paramiko

        self.root = target.path
        self.description = f"sftp://{target.user}@{target.host}:{target.port}{target.path}"
        self.client = paramiko.SSHClient()
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(target.known_hosts_line)
        except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError):
            entry = None
        if entry is None or entry.key is None:
            raise ConfigError("target.known_hosts_line: paramiko cannot parse it; use one "
                              "line of `ssh-keyscan -p PORT HOST` output")
        # The configured key is the only trusted one, whatever names the line lists.
        name = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
        self.client.get_host_keys().add(name, entry.key.get_name(), entry.key)
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            self.client.connect(
                target.host, port=target.port, username=target.user,
                key_filename=target.key_file, allow_agent=False, look_for_keys=False,
                timeout=target.timeout, banner_timeout=target.timeout,
                auth_timeout=target.timeout)
        except paramiko.BadHostKeyException as error:
            raise StorageError(
                f"SFTP {target.host}:{target.port}: host key mismatch (server offers "
                f"{error.key.get_name()} {error.key.get_base64()[:24]}...); if the server's "
                "key really changed, update target.known_hosts_line") from error
        except paramiko.SSHException as error:
            raise StorageError(f"SFTP {target.host}:{target.port}: {error}") from error
        except OSError as error:  # includes TimeoutError
            raise StorageError(f"SFTP {target.host}:{target.port}: {error}") from error
        self.sftp = self.client.open_sftp()

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def makedirs(self, path: str) -> None:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            current = "/".join(parts[:depth])
            if not current:
                continue
            try:
                self.sftp.stat(current)
            except FileNotFoundError:
                self.sftp.mkdir(current, mode=0o700)

    def open_writer(self, name: str) -> PartWriter:
        return _SftpWriter(self, self._path(name))

    def read(self, name: str) -> Iterator[bytes]:
        try:
            with self.sftp.open(self._path(name), "rb") as file:
                file.prefetch()
                while chunk := file.read(READ_SIZE):
                    yield chunk
        except (OSError, EOFError) as error:
            raise StorageError(f"SFTP read {self._path(name)}: {error}") from error

    def put(self, name: str, data: bytes) -> None:
        writer = _SftpWriter(self, self._path(name))
        writer.write(data)
        writer.commit()

    def get(self, name: str) -> bytes | None:
        try:
            with self.sftp.open(self._path(name), "rb") as file:
                return bytes(file.read())
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StorageError(f"SFTP read {self._path(name)}: {error}") from error

    def backup_ids(self) -> list[str]:
        import stat

        try:
            entries = self.sftp.listdir_attr(self.root)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StorageError(f"SFTP list {self.root}: {error}") from error
        return sorted(e.filename for e in entries if stat.S_ISDIR(e.st_mode or 0))

    def names(self, backup_id: str) -> list[str]:
        return sorted(self.sftp.listdir(self._path(backup_id)))

    def delete_backup(self, backup_id: str) -> None:
        names = self.names(backup_id)
        names.sort(key=lambda name: name != "manifest.json")
        try:
            for name in names:
                self.sftp.remove(self._path(f"{backup_id}/{name}"))
            self.sftp.rmdir(self._path(backup_id))
        except OSError as error:
            if getattr(error, "errno", None) != errno.ENOENT:
                raise StorageError(f"SFTP delete {backup_id}: {error}") from error

    def abort_uploads(self) -> list[str]:
        return []  # a dead run's .partial files sit in its directory: prune sees them

    def close(self) -> None:
        self.client.close()

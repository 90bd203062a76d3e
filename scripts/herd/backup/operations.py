"""backup, restore, verify, list and prune: what the herd-backup subcommands do."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import stat
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from herd.backup import crypto
from herd.backup import database as pg
from herd.backup.config import DEFAULT_LOCK_FILE, Config
from herd.backup.manifest import NAME as MANIFEST
from herd.backup.manifest import STALE_INCOMPLETE, Manifest, Part, id_time, new_id, to_keep
from herd.backup.pipeline import Digest, Gzip, IterReader, Tee, counted, gunzip
from herd.backup.redis import snapshot as redis_snapshot
from herd.backup.targets import Store, open_store
from herd.errors import ConfigError, IntegrityError, Interrupted, LockHeld, StorageError
from herd.log import StepLog

READ_SIZE = 1024 * 1024
PART_DATABASE = "database.dump"
PART_UPLOADS = "uploads.tar.gz"
PART_REDIS = "redis.rdb.gz"
DEFAULT_RESTORE_PARTS = ("database", "files", "uploads")


def now() -> datetime:
    return datetime.now(UTC)


# Set by the SIGTERM handler. The handler also raises Interrupted at once, but a library
# deep in an upload may swallow that exception (botocore retries on "any error"): the
# pipeline checks this flag for every chunk, so the stop is never lost.
STOP = threading.Event()


def checkpoint() -> None:
    if STOP.is_set():
        raise Interrupted("stopped by SIGTERM; partial work discarded")


# --- shared pieces -------------------------------------------------------------------


@contextlib.contextmanager
def lock(path: str) -> Iterator[None]:
    """One herd-backup run at a time per host (backup, restore, verify, prune).

    The lock's directory is made 0700 and must belong to this user and be writable by
    no one else: in a shared directory (the world-writable /run/lock) any local user
    could hold the lock first, or plant a symlink for root to open."""
    descriptor = _open_lock(Path(path))
    with os.fdopen(descriptor, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(f"another herd-backup run holds {path}; this one did nothing") from None
        yield


def _open_lock(path: Path) -> int:
    parent = path.parent
    try:
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(parent)
    except OSError as error:
        raise ConfigError(f"lock_file: cannot create {parent} ({error.strerror}); set "
                          "lock_file in a directory this user may create") from error
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        what = (f"mode {stat.S_IMODE(info.st_mode):04o}, owned by uid {info.st_uid}"
                if stat.S_ISDIR(info.st_mode) else "not a directory")
        raise ConfigError(
            f"lock_file: {parent} is {what}; the lock's directory must belong to the user "
            "running herd-backup and be writable by no one else, or other users could block "
            f"or redirect the lock; use the default {DEFAULT_LOCK_FILE} (herd creates its "
            "directory 0700)")
    try:
        return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ConfigError(f"lock_file: {path} is a symlink; herd never follows one there. "
                              "Remove it") from error
        raise ConfigError(f"lock_file: cannot open {path} ({error.strerror})") from error


def _disk_error(error: OSError, where: str) -> StorageError:
    if error.errno == errno.ENOSPC:
        return StorageError(f"local disk full while writing {where}; free space there or "
                            "point restore.work_dir / the restore paths at a larger filesystem")
    return StorageError(f"writing {where}: {error.strerror or error}")


def mastodon_release(root: str) -> str:
    """The release in lib/mastodon/version.rb (major/minor/patch methods), or 'unknown'."""
    try:
        text = (Path(root) / "lib" / "mastodon" / "version.rb").read_text()
    except OSError:
        return "unknown"
    numbers = [re.search(rf"def {name}\s+(\d+)", text) for name in ("major", "minor", "patch")]
    if not all(numbers):
        return "unknown"
    return ".".join(match.group(1) for match in numbers if match)


@dataclass
class Catalog:
    """What a target holds: every backup directory, by what its manifest says."""

    ids: list[str]
    manifests: list[Manifest]  # complete and readable, oldest first
    unreadable: dict[str, str]  # backup id -> why its manifest was refused


def catalog(store: Store, log: StepLog) -> Catalog:
    """Read every manifest; one that cannot be read is reported (on stderr, naming the
    backup) and set aside, so that it never stops the others from being used."""
    ids = store.backup_ids()
    manifests, unreadable = [], {}
    for backup_id in ids:
        try:
            data = store.get(f"{backup_id}/{MANIFEST}")
            if data is None:
                continue
            manifests.append(Manifest.from_json(data, backup_id))
        except (IntegrityError, StorageError) as error:
            unreadable[backup_id] = str(error)
            log.step("skip unreadable manifest", backup=backup_id, reason=str(error))
    return Catalog(ids, sorted(manifests, key=lambda m: m.finished), unreadable)


def complete_backups(store: Store, log: StepLog) -> list[Manifest]:
    """Backups that have a readable manifest, oldest first; nothing else counts."""
    return catalog(store, log).manifests


def choose(store: Store, log: StepLog, backup_id: str | None) -> Manifest:
    found = catalog(store, log)
    manifests = found.manifests
    if backup_id in (None, "latest"):
        if not manifests:
            raise StorageError(f"no complete backup in {store.description}")
        newer = sorted(i for i in found.unreadable if i > manifests[-1].id)
        if newer:
            log.step("warning", chosen=manifests[-1].id, unreadable_newer=",".join(newer),
                     note="the newest readable backup is older than these; pass --backup to "
                          "choose explicitly")
        return manifests[-1]
    for manifest in manifests:
        if manifest.id == backup_id:
            return manifest
    if backup_id in found.unreadable:
        raise IntegrityError(f"backup {found.unreadable[backup_id]}; `herd-backup list` "
                             "shows the backups that can be restored")
    raise ConfigError(f"backup id {backup_id!r}: no complete backup with that id in "
                      f"{store.description}; `herd-backup list` shows the ids")


def check_key(config: Config, manifest: Manifest) -> None:
    if manifest.key_id != crypto.key_id(config.key):
        raise IntegrityError(
            f"backup {manifest.id} was encrypted with key id {manifest.key_id}, but key_file "
            f"{config.key_file} has key id {crypto.key_id(config.key)}: wrong decryption key; "
            "use the key_file that was in place when the backup was made")


# --- backup --------------------------------------------------------------------------


class Backup:
    def __init__(self, config: Config, log: StepLog, dry_run: bool = False):
        self.config, self.log, self.dry_run = config, log, dry_run
        self.backup_id: str | None = None
        self.finished: datetime | None = None  # when the manifest made it complete

    def preflight(self) -> list[tuple[str, str]]:
        """Check local inputs before touching anything; returns (part, source) to back up."""
        plan = [(PART_DATABASE, f"postgresql:{self.config.database.name}")]
        for item in self.config.files:
            if not os.access(item.path, os.R_OK):
                raise ConfigError(f"mastodon: {item.path} ({item.part}) is missing or "
                                  "unreadable; fix mastodon.root / env_file / secrets_file")
            plan.append((item.part, item.path))
        uploads = self.config.uploads_dir
        if uploads and Path(uploads).is_dir():
            plan.append((PART_UPLOADS, uploads))
        elif uploads:
            self.log.step("skip", part=PART_UPLOADS, reason=f"{uploads} does not exist")
        redis = self.config.redis_dump
        # BGSAVE (just before the copy) writes dump_file when it is not there yet.
        if redis and (os.access(redis, os.R_OK) or Path(redis).parent.is_dir()):
            plan.append((PART_REDIS, redis))
        elif redis:
            self.log.step("skip", part=PART_REDIS, reason=f"{redis} missing or unreadable")
        return plan

    def run(self) -> str | None:
        config, log = self.config, self.log
        plan = self.preflight()
        db = config.database
        version = pg.server_version(db, log)  # also proves the database is up, before any upload
        tables = pg.tables(db, log, db.name)
        extensions = pg.extensions(db, log, db.name)
        started = now()
        if self.dry_run:
            for part, source in plan:
                log.step("would back up", part=part, source=source)
            return None
        store = open_store(config.target)
        try:
            abort_dead_uploads(store, log)
            backup_id = new_id(started)
            existing = set(store.backup_ids())
            suffix = 1
            while backup_id in existing:  # two runs within one second
                suffix += 1
                backup_id = f"{new_id(started)}-{suffix}"
            self.backup_id = backup_id
            log.step("start", backup=backup_id, target=store.description)
            manifest = Manifest(
                id=backup_id, started_at=started.isoformat(), finished_at="",
                host=socket.gethostname(), key_id=crypto.key_id(config.key),
                mastodon_release=mastodon_release(config.mastodon_root),
                postgresql_server_version=version, database=db.name, tables=tables,
                extensions=extensions)
            try:
                for part, source in plan:
                    manifest.parts.append(self._part(store, backup_id, part, source))
                finished = now()
                manifest.finished_at = finished.isoformat()
                # Last: from this moment on the backup is complete.
                store.put(f"{backup_id}/{MANIFEST}", manifest.to_json())
                self.finished = finished
            except BaseException:
                self._discard(store, backup_id)
                raise
            log.step("done", backup=backup_id, size=manifest.size,
                     seconds=round((now() - started).total_seconds(), 1))
            return backup_id
        finally:
            store.close()

    def _discard(self, store: Store, backup_id: str) -> None:
        """Best effort: remove what this failed run wrote (it never had a manifest)."""
        try:
            store.delete_backup(backup_id)
            self.log.step("discarded", backup=backup_id)
        except Exception as error:  # the target may be the thing that failed
            self.log.step("discard failed", backup=backup_id, error=str(error),
                          note="incomplete: no manifest, so never listed; prune removes it")

    def _part(self, store: Store, backup_id: str, part: str, source: str) -> Part:
        config, log = self.config, self.log
        log.step("part", part=part, source=source)
        writer = store.open_writer(f"{backup_id}/{part}")
        stored = Digest()

        def to_target(data: bytes) -> None:
            checkpoint()
            stored.update(data)
            writer.write(data)

        try:
            encryptor = crypto.Encryptor(config.key, to_target)
            plain = Tee(encryptor.write)
            compression = "none" if part in (PART_DATABASE,) or part in {
                f.part for f in config.files} else "gzip"
            gzip = Gzip(plain.write) if compression == "gzip" else None
            source_bytes = Tee(gzip.write if gzip else plain.write,
                               progress=lambda done: log.progress(part, done))
            mode = None
            if part == PART_DATABASE:
                self._dump(source_bytes)
            elif part == PART_UPLOADS:
                self._tar(source, source_bytes)
            else:
                if part == PART_REDIS:
                    self._redis_snapshot()
                mode = self._copy(source, source_bytes)
            if gzip:
                gzip.close()
            encryptor.close()
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        kind = {PART_DATABASE: "database", PART_UPLOADS: "tree", PART_REDIS: "redis"}.get(
            part, "file")
        log.step("stored", part=part, size=stored.size, source_size=source_bytes.digest.size)
        return Part(name=part, kind=kind, size=stored.size, sha256=stored.sha256,
                    plain_size=plain.digest.size, plain_sha256=plain.digest.sha256,
                    compression=compression, source=source, mode=mode)

    def _dump(self, out: Tee) -> None:
        # pg_dump -Fc compresses already: its output is encrypted without another pass.
        with pg.dump(self.config.database, self.log) as dump:
            assert dump.process.stdout is not None  # noqa: S101 - mode="read" sets it
            while chunk := dump.process.stdout.read(READ_SIZE):
                out.write(chunk)

    def _redis_snapshot(self) -> None:
        server = self.config.redis
        saved = redis_snapshot(server.host, server.port, server.user, server.password,
                               server.save_timeout, self.log)
        self.log.step("redis saved", lastsave=datetime.fromtimestamp(saved, UTC).isoformat())

    def _copy(self, source: str, out: Tee) -> int:
        with Path(source).open("rb") as file:
            while chunk := file.read(READ_SIZE):
                out.write(chunk)
            return os.fstat(file.fileno()).st_mode & 0o7777

    def _tar(self, root: str, out: Tee) -> None:
        excluded = set(self.config.uploads_exclude)
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            for directory, subdirs, files in os.walk(root):
                relative = os.path.relpath(directory, root)
                if relative == ".":
                    # Only top-level names are excluded (public/system/cache, not media/cache).
                    subdirs[:] = [d for d in subdirs if d not in excluded]
                subdirs.sort()
                for name in [*sorted(subdirs), *sorted(files)]:
                    path = Path(directory, name)
                    arcname = os.path.normpath(Path(relative, name))
                    # Files come and go on a live server: a vanished one is skipped.
                    with contextlib.suppress(FileNotFoundError):
                        tar.add(path, arcname=arcname, recursive=False)


# --- restore -------------------------------------------------------------------------


class Restore:
    def __init__(self, config: Config, log: StepLog, *, backup_id: str | None = None,
                 parts: tuple[str, ...] = DEFAULT_RESTORE_PARTS, database: str | None = None,
                 force_nonempty: bool = False, dry_run: bool = False):
        self.config, self.log, self.dry_run = config, log, dry_run
        self.backup_id, self.parts, self.force_nonempty = backup_id, parts, force_nonempty
        self.database = database or config.database.name
        self.extensions: list[dict[str, str]] = []  # of the chosen backup, set by run()

    def selected(self, manifest: Manifest) -> list[Part]:
        wanted = []
        for part in manifest.parts:
            group = {"database": "database", "tree": "uploads", "redis": "redis"}.get(
                part.kind, "files")
            if group in self.parts:
                wanted.append(part)
        for part in wanted:
            if part.kind == "redis" and not self.config.redis_dump:
                raise ConfigError("redis.dump_file: required to restore the redis part; set "
                                  "it (stop redis-server first) or leave redis out of --parts")
            if part.kind == "tree" and not self.config.uploads_dir:
                raise ConfigError("mastodon.uploads_dir: required to restore the uploads part; "
                                  "set it or leave uploads out of --parts")
        return wanted

    def run(self) -> Manifest:
        config, log = self.config, self.log
        store = open_store(config.target)
        try:
            manifest = choose(store, log, self.backup_id)
            check_key(config, manifest)
            parts = self.selected(manifest)
            self.extensions = manifest.extensions
            log.step("selected", backup=manifest.id, parts=",".join(p.name for p in parts))
            db_part = next((p for p in parts if p.kind == "database"), None)
            create = False
            if db_part:
                create = self._check_database(db_part)
            if self.dry_run:
                for part in parts:
                    log.step("would restore", part=part.name, to=self._destination(part))
                return manifest
            # Every checksum first: nothing is touched unless every part is intact.
            verify_parts(config, log, store, manifest, parts)
            for part in parts:
                if part.kind == "database":
                    self._database(store, manifest, part, create)
                elif part.kind == "tree":
                    self._tree(store, manifest, part)
                else:
                    self._file(store, manifest, part)
            log.step("restored", backup=manifest.id)
            return manifest
        finally:
            store.close()

    def _destination(self, part: Part) -> str:
        if part.kind == "database":
            return f"postgresql:{self.database}"
        if part.kind == "tree":
            return str(self.config.uploads_dir)
        if part.kind == "redis":
            return str(self.config.redis_dump)
        item = next((f for f in self.config.files if f.part == part.name), None)
        return item.path if item else part.source

    def _check_database(self, part: Part) -> bool:
        """Refuse a non-empty target database; True when it must be created."""
        db, log = self.config.database, self.log
        missing = sorted({e["name"] for e in self.extensions}
                         - pg.available_extensions(db, log))
        if missing:
            raise ConfigError(
                f"database: the backup's database uses the extension(s) {', '.join(missing)}, "
                "which this PostgreSQL server does not have; install them (most are in "
                "Debian's postgresql-contrib, part of postgresql-N) and restore again")
        if not pg.exists(db, log, self.database):
            log.step("database missing", database=self.database, action="createdb -T template0")
            create = True
        else:
            objects = pg.object_count(db, log, self.database)
            if objects and not self.force_nonempty:
                raise ConfigError(
                    f"database {self.database} is not empty ({objects} relations); restore "
                    "into an empty or missing database, or pass --force-nonempty to replace "
                    "the objects the backup contains (pg_restore --clean)")
            create = False
        if self.config.restore_jobs > 1:
            free = shutil.disk_usage(self.config.work_dir).free
            if free < part.plain_size * 1.05 + 64 * 1024 * 1024:
                raise StorageError(
                    f"restore.work_dir {self.config.work_dir} has {free} bytes free, the "
                    f"database dump needs {part.plain_size}; point restore.work_dir at a "
                    "larger filesystem or set restore.jobs: 1 to stream without a copy")
        return create

    def _decrypted(self, store: Store, manifest: Manifest, part: Part,
                   plain: Digest) -> Iterator[bytes]:
        return _checked(counted(crypto.decrypt(
            self.config.key, store.read(f"{manifest.id}/{part.name}"), part.name), plain))

    def _check_plain(self, part: Part, plain: Digest) -> None:
        if (plain.size, plain.sha256) != (part.plain_size, part.plain_sha256):
            raise IntegrityError(f"{part.name}: content changed between the verification pass "
                                 "and the restore; run the restore again")

    def _database(self, store: Store, manifest: Manifest, part: Part, create: bool) -> None:
        db, log = self.config.database, self.log
        if create:
            pg.createdb(db, log, self.database)
        pg.create_extensions(db, log, self.database, self.extensions)
        clean = self.force_nonempty and not create
        plain = Digest()
        chunks = self._decrypted(store, manifest, part, plain)
        if self.config.restore_jobs <= 1:
            with pg.restore_from_stdin(db, log, self.database, clean) as restore:
                assert restore.process.stdin is not None  # noqa: S101 - mode="write" sets it
                try:
                    for chunk in chunks:
                        restore.process.stdin.write(chunk)
                except BrokenPipeError:
                    pass  # pg_restore stopped: its exit status says why
            self._check_plain(part, plain)
            return
        # pg_restore -j needs a seekable file: the decrypted dump goes to work_dir (0600).
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - removed in finally
            dir=self.config.work_dir, prefix="herd-restore-", suffix=".dump", delete=False)
        try:
            try:
                with handle:
                    for chunk in chunks:
                        handle.write(chunk)
            except OSError as error:
                raise _disk_error(error, handle.name) from error
            self._check_plain(part, plain)
            if db.os_user:
                # pg_restore runs as os_user: let it read the copy (still not world-readable).
                shutil.chown(handle.name, user=db.os_user)
            pg.restore_from_file(db, log, self.database, handle.name,
                                 self.config.restore_jobs, clean)
        finally:
            Path(handle.name).unlink(missing_ok=True)

    def _file(self, store: Store, manifest: Manifest, part: Part) -> None:
        path = Path(self._destination(part))
        plain = Digest()
        chunks: Iterator[bytes] = self._decrypted(store, manifest, part, plain)
        if part.compression == "gzip":
            chunks = gunzip(chunks)
        _write_atomically(path, chunks, part.mode if part.mode is not None else 0o600)
        self._check_plain(part, plain)
        self.log.step("file restored", part=part.name, path=str(path))

    def _tree(self, store: Store, manifest: Manifest, part: Part) -> None:
        root = Path(str(self.config.uploads_dir))
        root.mkdir(parents=True, exist_ok=True)
        plain = Digest()
        reader = IterReader(gunzip(self._decrypted(store, manifest, part, plain)))
        count = 0
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    _check_member(member, part.name)
                    _extract(tar, member, root)
                    count += 1
        except OSError as error:
            raise _disk_error(error, str(root)) from error
        except (tarfile.TarError, zlib.error) as error:
            raise IntegrityError(f"{part.name}: archive unreadable: {error}") from error
        self._check_plain(part, plain)
        self.log.step("uploads restored", path=str(root), entries=count)


def _checked(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        checkpoint()
        yield chunk


def _check_member(member: tarfile.TarInfo, where: str) -> None:
    name = member.name
    if name.startswith("/") or ".." in Path(name).parts:
        raise IntegrityError(f"{where}: refusing archive entry outside the target: {name!r}")
    if not (member.isfile() or member.isdir()):
        raise IntegrityError(f"{where}: refusing archive entry of unexpected type: {name!r}")


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
    if hasattr(tarfile, "tar_filter"):  # Python with the extraction filters (3.11.4+)
        tar.extract(member, root, filter="tar")
    else:
        tar.extract(member, root)


def _write_atomically(path: Path, chunks: Iterator[bytes], mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = path.stat() if path.exists() else path.parent.stat()
    temporary = path.with_name(f".{path.name}.herd-restore")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        temporary.chmod(mode)
        if os.geteuid() == 0:
            os.chown(temporary, owner.st_uid, owner.st_gid)
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _disk_error(error, str(path)) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def verify_parts(config: Config, log: StepLog, store: Store, manifest: Manifest,
                 parts: list[Part]) -> None:
    """Download and decrypt every part, checking sizes and sha256 against the manifest."""
    check_key(config, manifest)
    for part in parts:
        stored, plain = Digest(), Digest()
        name = f"{manifest.id}/{part.name}"
        for _chunk in _checked(counted(crypto.decrypt(config.key, counted(store.read(name), stored),
                                                      part.name), plain)):
            log.progress(f"checking {part.name}", stored.size, part.size)
        if (stored.size, stored.sha256) != (part.size, part.sha256):
            raise IntegrityError(f"{part.name}: stored bytes have sha256 {stored.sha256} "
                                 f"({stored.size} bytes), the manifest says {part.sha256} "
                                 f"({part.size} bytes): the part is corrupted")
        if (plain.size, plain.sha256) != (part.plain_size, part.plain_sha256):
            raise IntegrityError(f"{part.name}: decrypted content does not match the manifest")
        log.step("checksum ok", part=part.name, size=part.size)


# --- verify --------------------------------------------------------------------------


def verify(config: Config, log: StepLog, backup_id: str | None) -> dict[str, object]:
    """Check every part, restore the dump into a scratch database, count, drop it."""
    store = open_store(config.target)
    try:
        manifest = choose(store, log, backup_id)
    finally:
        store.close()
    db = config.database
    scratch = f"herd_verify_{manifest.id.lower().replace('-', '_')}"
    pg.dropdb(db, log, scratch)  # a leftover of an earlier interrupted verify
    try:
        Restore(config, log, backup_id=manifest.id, parts=("database",),
                database=scratch).run()
        restored = pg.tables(db, log, scratch)
        if set(restored) != set(manifest.tables):
            missing = sorted(set(manifest.tables) - set(restored))
            raise IntegrityError(f"verify {manifest.id}: restored copy lacks tables "
                                 f"{', '.join(missing[:10]) or '(none)'} "
                                 f"({len(restored)} of {len(manifest.tables)} tables)")
        rows = {table: pg.row_count(db, log, scratch, table)
                for table in db.verify_tables if table in restored}
        result: dict[str, object] = {"backup": manifest.id, "tables": len(restored),
                                     "rows": rows}
        log.step("verified", **result)
        return result
    finally:
        pg.dropdb(db, log, scratch)


# --- prune ---------------------------------------------------------------------------


def prune(config: Config, log: StepLog, dry_run: bool = False) -> list[str]:
    """Delete complete backups retention does not keep, and stale incomplete leftovers."""
    store = open_store(config.target)
    try:
        if not dry_run:
            abort_dead_uploads(store, log)
        found = catalog(store, log)
        manifests = found.manifests
        retention = config.retention
        keep = to_keep(manifests, retention.keep_daily, retention.keep_weekly,
                       retention.keep_monthly)
        doomed = [m.id for m in manifests if m.id not in keep]
        complete = {m.id for m in manifests}
        for backup_id in found.ids:
            started = id_time(backup_id)
            # Incomplete (no manifest) and old enough not to be a run still in progress.
            # A manifest that cannot be read is never reason enough to delete a backup.
            if (backup_id not in complete and backup_id not in found.unreadable
                    and started and now() - started > STALE_INCOMPLETE):
                doomed.append(backup_id)
        for backup_id in doomed:
            log.step("would delete" if dry_run else "delete", backup=backup_id)
            if not dry_run:
                store.delete_backup(backup_id)
        log.step("pruned", kept=len(keep), deleted=len(doomed), unknown=len(found.unreadable),
                 dry_run=dry_run, **({"note": "backups with an unreadable manifest are kept; "
                                              "inspect and delete them by hand"}
                                     if found.unreadable else {}))
        return doomed
    finally:
        store.close()


def abort_dead_uploads(store: Store, log: StepLog) -> None:
    """With the lock held: unfinished uploads are a killed run's (SIGKILL, power loss)."""
    for key in store.abort_uploads():
        log.step("aborted dead upload", key=key)


def write_status(path: str | None, status: dict[str, object]) -> None:
    """The status file monitoring reads: replaced atomically, never half-written."""
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(status, sort_keys=True) + "\n")
    temporary.replace(target)


METRIC_LAST_COMPLETE = "herd_backup_last_complete_timestamp_seconds"


def write_metrics(path: str | None, finished: datetime, log: StepLog) -> None:
    """node_exporter's textfile collector reads *.prom in its directory: replace ours
    atomically with the time the newest complete backup finished. The directory belongs to
    the exporter (Debian's package creates it): without it there is no exporter to read
    the file, so nothing is written. Failing to write it never fails the backup; the
    backup-too-old alert then fires, and the journal says why."""
    if not path:
        return
    target = Path(path)
    if not target.parent.is_dir():
        log.step("metrics skipped", reason=f"{target.parent} does not exist (no node_exporter?)")
        return
    text = (f"# HELP {METRIC_LAST_COMPLETE} When the newest complete herd backup finished.\n"
            f"# TYPE {METRIC_LAST_COMPLETE} gauge\n"
            f"{METRIC_LAST_COMPLETE} {finished.timestamp():.3f}\n")
    # A fresh name (O_EXCL) the collector ignores (not *.prom); renaming over a symlink
    # planted at the final name replaces the link, never what it points to.
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o644)  # the exporter runs as another user
            handle.write(text)
        temporary.replace(target)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        log.step("metrics not written", file=path, error=str(error))
        return
    log.step("metrics written", file=path)


def human_list(manifests: list[Manifest], out: IO[str],
               fmt: Callable[[float], str]) -> None:
    for manifest in manifests:
        parts = ",".join(part.name for part in manifest.parts)
        out.write(f"{manifest.id}  {manifest.finished_at[:19]}  {fmt(manifest.size):>10}  "
                  f"mastodon {manifest.mastodon_release}  pg {manifest.postgresql_server_version}"
                  f"  {parts}\n")

"""The manifest (written last: its presence is what makes a backup complete) and the
retention rule that decides which complete backups prune keeps."""

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from herd.errors import IntegrityError

FORMAT = 1
NAME = "manifest.json"
ID_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass
class Part:
    name: str
    kind: str  # database | file | tree | redis
    size: int  # stored (encrypted) bytes
    sha256: str  # of the stored bytes
    plain_size: int  # bytes before encryption (after any compression)
    plain_sha256: str
    compression: str = "none"  # none | gzip
    source: str = ""  # where it came from on the backed-up host
    mode: int | None = None  # file permissions, for kind == file


@dataclass
class Manifest:
    id: str
    started_at: str
    finished_at: str
    host: str
    key_id: str
    mastodon_release: str
    postgresql_server_version: str
    database: str
    tables: list[str] = field(default_factory=list)
    # {"name", "schema"} of each extension of the source database (older backups: none).
    extensions: list[dict[str, str]] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    format: int = FORMAT
    encryption: str = "AES-256-GCM, 1 MiB chunks (herd stream v1)"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, where: str) -> "Manifest":
        """Parse and check a stored manifest; IntegrityError says what is wrong with it."""
        try:
            raw: Any = json.loads(data)
            if not isinstance(raw, dict):
                raise ValueError(f"a JSON {type(raw).__name__}, not an object")
            if raw.get("format") != FORMAT:
                raise IntegrityError(f"{where}: manifest format {raw.get('format')!r} is not "
                                     f"supported by this herd (it reads {FORMAT})")
            parts = raw.get("parts", [])
            if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
                raise ValueError("parts: not a list of objects")
            raw["parts"] = [_typed(Part(**part), f"part {part.get('name')!r}") for part in parts]
            manifest = _typed(cls(**raw), "manifest")
            if not all(isinstance(e, dict) and set(e) == {"name", "schema"}
                       and all(isinstance(v, str) for v in e.values())
                       for e in manifest.extensions):
                raise ValueError(f"extensions: {manifest.extensions!r}")
            if manifest.id != where:
                raise ValueError(f"it names backup {manifest.id!r}")
            for name in ("started_at", "finished_at"):
                _utc_time(getattr(manifest, name), name)
            return manifest
        except (ValueError, TypeError) as error:
            raise IntegrityError(f"{where}: manifest is unreadable: {error}") from error

    def part(self, name: str) -> Part | None:
        return next((part for part in self.parts if part.name == name), None)

    @property
    def finished(self) -> datetime:
        return datetime.fromisoformat(self.finished_at)

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)


_ALLOWED: dict[Any, tuple[type, ...]] = {
    str: (str,), int: (int,), int | None: (int, type(None)), list[str]: (list,)}


def _typed(record: Any, what: str) -> Any:
    """The dataclass with every str and int field of the type it declares (JSON can hold
    anything: a number where a name belongs would fail much later, mid-restore)."""
    for item in fields(record):
        value = getattr(record, item.name)
        allowed = _ALLOWED.get(item.type)
        if allowed and (not isinstance(value, allowed) or isinstance(value, bool)):
            raise ValueError(f"{what}: {item.name} is {value!r}")
    return record


def _utc_time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is {value!r}, not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise ValueError(f"{name} is {value!r}, a time without UTC offset")
    return moment


def new_id(now: datetime) -> str:
    return now.astimezone(UTC).strftime(ID_FORMAT)


def id_time(backup_id: str) -> datetime | None:
    try:
        return datetime.strptime(backup_id[:16], ID_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def to_keep(manifests: list[Manifest], daily: int, weekly: int, monthly: int) -> set[str]:
    """Ids retention keeps: the newest backup of each of the last `daily` days, `weekly`
    ISO weeks and `monthly` months that have one, and always the newest backup overall."""
    newest_first = sorted(manifests, key=lambda m: m.finished, reverse=True)
    keep: set[str] = {newest_first[0].id} if newest_first else set()
    rules = (
        (daily, lambda t: t.strftime("%Y-%m-%d")),
        (weekly, lambda t: "{}-W{:02d}".format(*t.isocalendar()[:2])),
        (monthly, lambda t: t.strftime("%Y-%m")),
    )
    for count, bucket_of in rules:
        seen: set[str] = set()
        for manifest in newest_first:
            bucket = bucket_of(manifest.finished.astimezone(UTC))
            if bucket not in seen and len(seen) < count:
                seen.add(bucket)
                keep.add(manifest.id)
    return keep


STALE_INCOMPLETE = timedelta(days=1)

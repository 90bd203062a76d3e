"""The cleanup plan: above high-water, prune oldest first until below low-water.

Order (least valuable first): preview cards (when configured), then
`tootctl media remove --days D` for each D from the longest step down to the floor,
re-measuring after each, then nginx's proxy cache oldest file first. Local users' own
uploads are never touched: the only actions are tootctl calls and file removals inside
the nginx cache directory.

The planner talks to the machine only through `Host`, so tests can drive it with fakes.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from herd.cache.config import CleanupConfig
from herd.cache.scan import CacheFile
from herd.log import StepLog


@dataclass(frozen=True)
class Measurement:
    disk_used: int  # bytes, as df counts them (total - free)
    disk_size: int  # used + available to unprivileged users, as df's Use% counts them
    media_cache_bytes: int
    nginx_cache_bytes: int

    @property
    def cache_bytes(self) -> int:
        return self.media_cache_bytes + self.nginx_cache_bytes

    def minus(self, cache_bytes: int, disk_bytes: int, *, nginx: bool) -> "Measurement":
        """What this measurement would read after freeing the given bytes (dry runs)."""
        return Measurement(
            disk_used=max(0, self.disk_used - disk_bytes),
            disk_size=self.disk_size,
            media_cache_bytes=self.media_cache_bytes - (0 if nginx else cache_bytes),
            nginx_cache_bytes=self.nginx_cache_bytes - (cache_bytes if nginx else 0),
        )


class Host(Protocol):
    def measure(self) -> Measurement: ...

    def tootctl(self, args: list[str], *, dry_run: bool) -> str: ...

    def estimate_removal(self, subdir: str, days: int) -> int | None:
        """Bytes a `--days` prune of cache/<subdir> would free; None when unknown."""
        ...

    def nginx_files(self) -> list[CacheFile]: ...

    def remove(self, path: str) -> None: ...


@dataclass
class StepReport:
    step: str
    level_before: float
    level_after: float
    cache_bytes_freed: int
    disk_bytes_freed: int
    estimated: bool = False  # dry run: what would be freed, from file ages
    files: list[str] = field(default_factory=list)


@dataclass
class CleanupReport:
    mode: str
    dry_run: bool
    high_water: float
    low_water: float
    level_start: float
    level_end: float
    acted: bool
    low_water_reached: bool
    steps: list[StepReport] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(step.cache_bytes_freed for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bytes_freed": self.bytes_freed}


def level(config: CleanupConfig, measurement: Measurement) -> float:
    """Fill level in percent: of the cache quota when one is set, else of the disk."""
    if config.cache_quota_bytes is not None:
        return 100.0 * measurement.cache_bytes / config.cache_quota_bytes
    if measurement.disk_size <= 0:
        return 0.0
    return 100.0 * measurement.disk_used / measurement.disk_size


def plan_steps(config: CleanupConfig) -> list[tuple[str, list[str]]]:
    """The tootctl steps in the order they run: (name, tootctl arguments)."""
    steps = []
    if config.preview_cards_days is not None:
        cards = str(config.preview_cards_days)
        steps.append((f"preview_cards remove --days {cards}",
                      ["preview_cards", "remove", "--days", cards]))
    for days in config.steps:
        steps.append((f"media remove --days {days}",
                      ["media", "remove", "--days", str(days), *config.media_remove_options]))
    return steps


def _estimate_key(args: list[str]) -> tuple[str, int]:
    subdir = "preview_cards" if args[0] == "preview_cards" else "media_attachments"
    return subdir, int(args[args.index("--days") + 1])


def _fields(step: StepReport) -> dict[str, Any]:
    """A step's report as log fields (the step name is the log's own `action`)."""
    fields = asdict(step)
    fields["action"] = fields.pop("step")
    fields.pop("files")
    return fields


def cleanup(config: CleanupConfig, host: Host, log: StepLog) -> CleanupReport:
    """Run (or, with config.dry_run, describe) the cleanup; return what each step freed."""
    measured = host.measure()
    start = level(config, measured)
    report = CleanupReport(mode=config.mode, dry_run=config.dry_run,
                           high_water=config.high_water, low_water=config.low_water,
                           level_start=round(start, 2), level_end=round(start, 2),
                           acted=False, low_water_reached=start <= config.low_water)
    log.step("measure", mode=config.mode, level=round(start, 2),
             media_cache_bytes=measured.media_cache_bytes,
             nginx_cache_bytes=measured.nginx_cache_bytes, disk_used=measured.disk_used,
             disk_size=measured.disk_size)
    if start < config.high_water:
        log.step("below-high-water", level=round(start, 2), high_water=config.high_water)
        report.low_water_reached = True
        return report
    report.acted = True

    def done(current: Measurement) -> bool:
        return level(config, current) <= config.low_water

    # Dry runs change nothing, so what "would be freed" comes from file ages; estimates
    # are cumulative per cache (older than 7 days includes older than 14).
    estimated_so_far: dict[str, int] = {}
    for name, args in plan_steps(config):
        if done(measured):
            break
        before = measured
        output = host.tootctl(args, dry_run=config.dry_run)
        if config.dry_run:
            subdir, days = _estimate_key(args)
            estimate = host.estimate_removal(subdir, days)
            extra = 0 if estimate is None else max(0, estimate - estimated_so_far.get(subdir, 0))
            estimated_so_far[subdir] = max(estimate or 0, estimated_so_far.get(subdir, 0))
            measured = before.minus(extra, extra, nginx=False)
        else:
            measured = host.measure()
        step = StepReport(
            step=name, level_before=round(level(config, before), 2),
            level_after=round(level(config, measured), 2),
            cache_bytes_freed=before.cache_bytes - measured.cache_bytes,
            disk_bytes_freed=before.disk_used - measured.disk_used,
            estimated=config.dry_run)
        report.steps.append(step)
        log.step("tootctl", **_fields(step), output=output.strip().splitlines()[-3:])

    if not done(measured):
        measured = _prune_nginx(config, host, measured, done, report, log)

    end = level(config, measured)
    report.level_end = round(end, 2)
    report.low_water_reached = end <= config.low_water
    log.step("done", level=report.level_end, low_water=config.low_water,
             low_water_reached=report.low_water_reached, bytes_freed=report.bytes_freed,
             dry_run=config.dry_run)
    return report


def _prune_nginx(config: CleanupConfig, host: Host, measured: Measurement,
                 done: Callable[[Measurement], bool], report: CleanupReport,
                 log: StepLog) -> Measurement:
    """Remove nginx cache files oldest first until the projected level is below
    low-water; nginx refetches from Mastodon on the next request."""
    if config.nginx_cache_dir is None:
        log.step("nginx-cache-skipped", reason="disabled")
        return measured
    before = measured
    candidates = sorted(host.nginx_files(), key=lambda f: (f.mtime, f.path))
    cache_freed = disk_freed = 0
    removed: list[str] = []
    for cache_file in candidates:
        if done(before.minus(cache_freed, disk_freed, nginx=True)):
            break
        if not config.dry_run:
            host.remove(cache_file.path)
        removed.append(cache_file.path)
        cache_freed += cache_file.size
        disk_freed += cache_file.disk_bytes
    after = before.minus(cache_freed, disk_freed, nginx=True) if config.dry_run else host.measure()
    step = StepReport(
        step="nginx cache", level_before=round(level(config, before), 2),
        level_after=round(level(config, after), 2),
        cache_bytes_freed=before.cache_bytes - after.cache_bytes,
        disk_bytes_freed=before.disk_used - after.disk_used,
        estimated=config.dry_run, files=removed)
    report.steps.append(step)
    log.step("nginx-cache", **_fields(step), files=len(removed))
    return after

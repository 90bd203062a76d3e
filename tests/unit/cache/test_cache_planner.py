"""The cleanup planner against a fake machine: marks, floor, ordering, dry run."""

import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from herd.cache.config import CleanupConfig
from herd.cache.planner import Measurement, cleanup, plan_steps
from herd.cache.scan import CacheFile
from herd.log import StepLog

GiB = 1024**3
ROOT = Path("/srv/mastodon/live")


@dataclass
class FakeHost:
    """Media cached per age in days; a `--days D` prune drops every age > D."""

    media_by_age: dict[int, int]
    nginx: list[CacheFile] = field(default_factory=list)
    other_disk_used: int = 0
    disk_size: int = 100 * GiB
    calls: list[list[str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def measure(self) -> Measurement:
        media = sum(self.media_by_age.values())
        nginx = sum(f.size for f in self.nginx)
        return Measurement(disk_used=self.other_disk_used + media + nginx,
                           disk_size=self.disk_size, media_cache_bytes=media,
                           nginx_cache_bytes=nginx)

    def tootctl(self, args: list[str], *, dry_run: bool) -> str:
        self.calls.append([*args, *(["--dry-run"] if dry_run else [])])
        if args[:2] == ["media", "remove"] and not dry_run:
            days = int(args[args.index("--days") + 1])
            self.media_by_age = {a: b for a, b in self.media_by_age.items() if a <= days}
        return "Removed some media"

    def estimate_removal(self, subdir: str, days: int) -> int | None:
        if subdir != "media_attachments":
            return 0
        return sum(b for a, b in self.media_by_age.items() if a > days)

    def nginx_files(self) -> list[CacheFile]:
        return list(self.nginx)

    def remove(self, path: str) -> None:
        self.removed.append(path)
        self.nginx = [f for f in self.nginx if f.path != path]


def quota_config(**overrides: object) -> CleanupConfig:
    base = CleanupConfig(mastodon_root=ROOT, cache_quota_bytes=100 * GiB, high_water=90,
                         low_water=70, nginx_cache_dir=Path("/var/cache/nginx"))
    return replace(base, **overrides)  # type: ignore[arg-type]


def nginx_file(name: str, size: int, mtime: float) -> CacheFile:
    return CacheFile(f"/var/cache/nginx/{name}", size, size, mtime)


def run(config: CleanupConfig, host: FakeHost):
    return cleanup(config, host, StepLog("test", stream=io.StringIO(), structured=True))


def media_days(host: FakeHost) -> list[int]:
    return [int(c[c.index("--days") + 1]) for c in host.calls if c[:2] == ["media", "remove"]]


def test_below_high_water_does_nothing():
    host = FakeHost({40: 50 * GiB, 2: 39 * GiB})  # 89 % of the quota
    report = run(quota_config(), host)
    assert not report.acted and host.calls == [] and host.removed == []


def test_stops_at_the_first_step_that_reaches_low_water():
    # 95 %: --days 30 drops the 40-day-old 20 GiB -> 75 %, still above 70; --days 14 drops
    # the 20-day-old 10 GiB -> 65 %: stop there, before 7/3/1 and before nginx.
    host = FakeHost({40: 20 * GiB, 20: 10 * GiB, 5: 60 * GiB, 0: 5 * GiB},
                    nginx=[nginx_file("a", GiB, 1.0)])
    report = run(quota_config(), host)
    assert media_days(host) == [30, 14]
    assert host.removed == []
    assert report.low_water_reached and report.level_end == pytest.approx(66.0)
    assert [s.cache_bytes_freed for s in report.steps] == [20 * GiB, 10 * GiB]


def test_never_goes_below_the_floor():
    host = FakeHost({2: 96 * GiB})  # only young media: nothing older than the floor
    report = run(quota_config(floor_days=3), host)
    assert media_days(host) == [30, 14, 7, 3]
    assert not report.low_water_reached


def test_nginx_cache_is_pruned_last_oldest_first_and_only_as_far_as_needed():
    host = FakeHost({1: 60 * GiB},
                    nginx=[nginx_file("new", 10 * GiB, 300.0), nginx_file("old", 10 * GiB, 100.0),
                           nginx_file("mid", 10 * GiB, 200.0)])  # 90 % of the quota
    report = run(quota_config(floor_days=3), host)
    assert media_days(host) == [30, 14, 7, 3]  # nothing freed by tootctl: media is young
    # 90 % -> 80 % (old) -> 70 % (mid, = low-water): "new" stays.
    assert host.removed == ["/var/cache/nginx/old", "/var/cache/nginx/mid"]
    assert report.steps[-1].step == "nginx cache"
    assert report.steps[-1].cache_bytes_freed == 20 * GiB
    assert report.low_water_reached


def test_nginx_not_touched_when_disabled():
    host = FakeHost({1: 70 * GiB}, nginx=[nginx_file("old", 30 * GiB, 1.0)])
    report = run(quota_config(nginx_cache_dir=None), host)
    assert host.removed == [] and not report.low_water_reached


def test_preview_cards_go_first_then_media():
    host = FakeHost({40: 95 * GiB})
    run(quota_config(preview_cards_days=30), host)
    assert host.calls[0] == ["preview_cards", "remove", "--days", "30"]
    assert host.calls[1][:4] == ["media", "remove", "--days", "30"]


def test_extra_options_are_passed_to_every_media_step():
    host = FakeHost({1: 95 * GiB})
    run(quota_config(media_remove_options=("--concurrency=2", "--prune-profiles")), host)
    assert all(c[4:] == ["--concurrency=2", "--prune-profiles"] for c in host.calls)


def test_dry_run_changes_nothing_and_projects_with_estimates():
    host = FakeHost({40: 20 * GiB, 20: 10 * GiB, 5: 60 * GiB, 0: 5 * GiB},
                    nginx=[nginx_file("a", GiB, 1.0)])
    before = dict(host.media_by_age)
    report = run(quota_config(dry_run=True), host)
    assert host.media_by_age == before and host.removed == []
    assert all(c[-1] == "--dry-run" for c in host.calls)
    assert media_days(host) == [30, 14]  # same stop point as the real run
    assert [s.cache_bytes_freed for s in report.steps] == [20 * GiB, 10 * GiB]
    assert all(s.estimated for s in report.steps)


def test_dry_run_lists_the_nginx_files_that_would_go():
    host = FakeHost({1: 70 * GiB}, nginx=[nginx_file("c", 10 * GiB, 3.0),
                                          nginx_file("b", 10 * GiB, 2.0),
                                          nginx_file("a", 10 * GiB, 1.0)])
    report = run(quota_config(dry_run=True, low_water=80), host)
    assert host.removed == []
    # 100 % -> 90 % (a) -> 80 % (b, = low-water): c would stay.
    assert report.steps[-1].files == ["/var/cache/nginx/a", "/var/cache/nginx/b"]


def test_disk_mode_uses_the_disk_fill():
    # 92 GiB used of 100 (85 by other data): only media can go, not the 85 GiB.
    host = FakeHost({40: 7 * GiB}, other_disk_used=85 * GiB)
    report = run(CleanupConfig(mastodon_root=ROOT, high_water=90, low_water=86,
                               nginx_cache_dir=None), host)
    assert report.mode == "disk" and report.level_start == pytest.approx(92.0)
    assert media_days(host) == [30]
    assert report.steps[0].disk_bytes_freed == 7 * GiB and report.low_water_reached


def test_plan_order_is_longest_retention_first_and_deduplicated():
    config = CleanupConfig(days_steps=(1, 7, 30, 7, 14, 3), floor_days=3)
    assert [name for name, _ in plan_steps(config)] == [
        "media remove --days 30", "media remove --days 14", "media remove --days 7",
        "media remove --days 3"]

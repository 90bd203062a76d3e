"""herd-cache-cleanup against the Mastodon stand-in's tootctl on a real temporary tree."""

import io
import os
from pathlib import Path

import pytest
from cache_standin import TOOTCTL_PATH, Instance, KiB, report, write_file
from herd.cache import lock
from herd.cache.config import CleanupConfig
from herd.cache.host import MachineHost
from herd.cache.planner import cleanup
from herd.log import StepLog

pytestmark = pytest.mark.integration
K100 = 100 * KiB


def aged_media(instance: Instance) -> dict[str, list[Path]]:
    """1000 KiB of cached remote media: 400 KiB 40 days old, 300 KiB 20, 200 KiB 10, 100 KiB 2."""
    ages = {"40d": (40, 4), "20d": (20, 3), "10d": (10, 2), "2d": (2, 1)}
    made: dict[str, list[Path]] = {}
    number = 1
    for label, (age, count) in ages.items():
        made[label] = []
        for _ in range(count):
            made[label].append(instance.attachment(number, K100, age))
            number += 1
    return made


def test_prunes_oldest_first_and_stops_below_low_water(instance: Instance):
    media = aged_media(instance)
    nginx = [instance.nginx_entry("aa01", 50 * KiB, 30), instance.nginx_entry("bb02", 50 * KiB, 30)]
    # 1100 KiB of 1000 KiB = 110 %: --days 30 -> 70 % (> 50), --days 14 -> 40 %: stop.
    result = instance.cleanup("--cache-quota", str(1000 * KiB), "--high-water", "90",
                              "--low-water", "50")
    assert result.returncode == 0, result.stderr
    assert instance.media_remove_days() == [30, 14]
    assert not any(p.exists() for p in media["40d"] + media["20d"])
    assert all(p.exists() for p in media["10d"] + media["2d"] + nginx)
    summary = report(result)
    assert [s["step"] for s in summary["steps"]] == ["media remove --days 30",
                                                      "media remove --days 14"]
    assert [s["cache_bytes_freed"] for s in summary["steps"]] == [4 * K100, 3 * K100]
    assert summary["low_water_reached"] and summary["level_end"] == pytest.approx(40.0)


def test_below_high_water_nothing_runs(instance: Instance):
    media = aged_media(instance)
    result = instance.cleanup("--cache-quota", str(2000 * KiB))  # 50 % < 90 %
    assert result.returncode == 0, result.stderr
    assert instance.tootctl_calls() == [] and all(p.exists() for ps in media.values() for p in ps)
    assert report(result)["acted"] is False


def young_media_and_nginx(instance: Instance) -> tuple[list[Path], dict[int, Path]]:
    media = [instance.attachment(n, K100, 2) for n in (1, 2, 3)]
    nginx = {age: instance.nginx_entry(f"{age}x{age}", K100, age) for age in (1, 2, 3, 4)}
    return media, nginx


def test_floor_is_honoured_and_nginx_goes_last_oldest_first(instance: Instance):
    media, nginx = young_media_and_nginx(instance)
    # 700 KiB of 700 KiB: tootctl may not go below 3 days, so nothing of the 2-day-old
    # media goes; then nginx 4d (600), 3d (500), 2d (400 = 57 % <= 60 %): stop.
    result = instance.cleanup("--cache-quota", str(700 * KiB), "--high-water", "90",
                              "--low-water", "60", "--floor-days", "3")
    assert result.returncode == 0, result.stderr
    assert instance.media_remove_days() == [30, 14, 7, 3]
    assert all(p.exists() for p in media)
    assert [age for age, p in nginx.items() if p.exists()] == [1]
    steps = report(result)["steps"]
    assert steps[-1]["step"] == "nginx cache" and steps[-1]["cache_bytes_freed"] == 3 * K100
    assert all(s["step"].startswith("media remove") for s in steps[:-1])


def test_still_above_low_water_exits_8(instance: Instance):
    media = [instance.attachment(n, K100, 2) for n in (1, 2)]
    result = instance.cleanup("--cache-quota", str(200 * KiB), "--floor-days", "3")
    assert result.returncode == 8, result.stderr
    assert "still at 100.0%" in result.stderr and all(p.exists() for p in media)


def test_dry_run_changes_nothing_and_lists_what_would_go(instance: Instance):
    media, nginx = young_media_and_nginx(instance)
    old = instance.attachment(9, K100, 40)
    result = instance.cleanup("--cache-quota", str(800 * KiB), "--high-water", "90",
                              "--low-water", "60", "--floor-days", "3", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert all(p.exists() for p in [*media, old, *nginx.values()])
    calls = instance.tootctl_calls()
    assert calls and all(call["options"]["dry_run"] is True for call in calls)
    summary = report(result)
    assert summary["dry_run"] and summary["steps"][0]["cache_bytes_freed"] == K100
    # 800 -> 700 (old media, estimated) -> nginx 4d, 3d, 2d -> 400 KiB = 50 %.
    assert summary["steps"][-1]["files"] == [str(nginx[4]), str(nginx[3]), str(nginx[2])]


def test_local_uploads_are_never_touched(instance: Instance):
    system = instance.root / "public" / "system"
    own = [write_file(system / "media_attachments/files/000/000/001/original/own.jpg", K100, 400),
           write_file(system / "accounts/avatars/000/000/001/original/me.png", K100, 400),
           write_file(system / "cache/accounts/avatars/000/000/002/original/r.png", K100, 400)]
    aged_media(instance)
    instance.nginx_entry("ab12", K100, 50)
    result = instance.cleanup("--cache-quota", str(100 * KiB), "--high-water", "10",
                              "--low-water", "1")
    assert result.returncode == 8  # nothing left to prune but the floor's 1 day
    assert all(p.exists() for p in own)
    assert not any((instance.cache / "media_attachments").rglob("*.jpg"))


@pytest.mark.parametrize(("args", "named"), [
    (["--high-water", "70", "--low-water", "80"], "low_water"),
    (["--days", "30,0"], "days"),
    (["--floor-days", "-1"], "floor_days"),
    (["--preview-cards-days", "13"], "preview_cards_days"),
    (["--media-cache-dir", "/var/tmp/elsewhere"], "media_cache_dir"),
    (["--media-remove-option=--frobnicate"], "media_remove_options"),
])
def test_bad_settings_are_refused_before_any_change(instance: Instance, args, named):
    media = aged_media(instance)
    result = instance.cleanup("--cache-quota", str(100 * KiB), *args)
    assert result.returncode == 2 and named in result.stderr, result.stderr
    assert instance.tootctl_calls() == [] and all(p.exists() for ps in media.values() for p in ps)


def test_waits_for_the_shared_lock_then_gives_up(instance: Instance):
    media = aged_media(instance)
    with lock.held(str(instance.lock), timeout=0):
        result = instance.cleanup("--cache-quota", str(100 * KiB))
    assert result.returncode == 7, result.stderr
    assert instance.tootctl_calls() == [] and all(p.exists() for ps in media.values() for p in ps)


def test_disk_mode_with_preview_cards_first(instance: Instance):
    """Disk fill through a statvfs seam: 'used' is 800 KiB of other data plus the caches."""
    media = aged_media(instance)
    cards = [write_file(instance.cache / "preview_cards/images/000/000/001/original/c.png",
                        K100, 40)]

    def statvfs(_path: str) -> os.statvfs_result:
        cached = sum(p.stat().st_size for p in instance.cache.rglob("*") if p.is_file())
        used_blocks = (800 * KiB + cached) // 1024
        # f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail, ...
        return os.statvfs_result((1024, 1024, 2000, 2000 - used_blocks, 2000 - used_blocks,
                                  0, 0, 0, 0, 255))

    config = CleanupConfig(mastodon_root=instance.root, tootctl=str(instance.tootctl),
                           tootctl_path=TOOTCTL_PATH, nginx_cache_dir=instance.nginx_cache,
                           high_water=90, low_water=80, preview_cards_days=30)
    log = StepLog("test", stream=io.StringIO(), structured=True)
    # 1900 of 2000 KiB = 95 %: cards (-100 -> 90 %), --days 30 (-400 -> 70 %): stop.
    result = cleanup(config, MachineHost(config, log, statvfs=statvfs), log)
    assert [c["command"] for c in instance.tootctl_calls()] == [["preview_cards", "remove"],
                                                                 ["media", "remove"]]
    assert not any(p.exists() for p in cards + media["40d"])
    assert all(p.exists() for p in media["20d"])
    assert result.mode == "disk" and result.level_end == pytest.approx(70.0)



def test_missing_tootctl_is_a_command_failure_not_a_crash(instance: Instance):
    aged_media(instance)
    result = instance.cleanup("--cache-quota", str(100 * KiB), "--tootctl",
                              str(instance.root / "bin" / "no-such-tootctl"))
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and "no-such-tootctl" in result.stderr

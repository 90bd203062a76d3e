"""Maintenance timers as an operator sees them: scheduled, runnable by hand, running the
right tootctl command as mastodon, leaving a status file, and failures made visible."""

import json
import time
from pathlib import Path

import pytest
import yaml

SCENARIO = yaml.safe_load((Path(__file__).resolve().parents[1] / "molecule.yml").read_text())
# Expected values come from the inventory an operator wrote (molecule.yml) ...
INVENTORY = SCENARIO["provisioner"]["inventory"]["group_vars"]["all"]
# ... from upstream (the install guide's checkout, docs: admin/install.md) ...
LIVE = "/home/mastodon/live"
# ... and from the paths roles/maintenance/README.md documents for monitoring and locking.
STATUS_DIR = "/var/lib/herd/maintenance"
LOCK_FILE = "/run/herd/maintenance.lock"
TOOTCTL_LOG = f"{LIVE}/log/standin-tootctl.jsonl"
CACHE = f"{LIVE}/public/system/cache"

# job -> (tootctl command words as the stand-in logs them, options it must have received)
ENABLED_JOBS = {
    "media-remove": (["media", "remove"],
                     {"days": INVENTORY["maintenance_media_remove_days"], "concurrency": 2}),
    "preview-cards-remove": (["preview_cards", "remove"],
                             {"days": INVENTORY["maintenance_preview_cards_remove_days"]}),
    "accounts-prune": (["accounts", "prune"], {}),
    "media-remove-orphans": (["media", "remove_orphans"], {}),
}


def tootctl_calls(host) -> list[dict]:
    content = host.file(TOOTCTL_LOG).content_string if host.file(TOOTCTL_LOG).exists else ""
    return [json.loads(line) for line in content.splitlines()]


def status(host, job: str) -> dict:
    return json.loads(host.file(f"{STATUS_DIR}/{job}.status").content_string)


def start(host, unit: str):
    return host.run(f"systemctl start {unit}")


def old_file(host, path: str, days: int, size_kib: int = 1) -> None:
    host.run_test(f"install -d -o mastodon -g mastodon $(dirname {path}) && "
                  f"head -c {size_kib * 1024} /dev/zero > {path} && chown mastodon: {path} && "
                  f"touch -d '{days} days ago' {path}")


@pytest.mark.parametrize("job", [*ENABLED_JOBS, "cache-cleanup"])
def test_enabled_job_timer_is_scheduled(host, job):
    timer = host.service(f"herd-{job}.timer")
    assert timer.is_enabled and timer.is_running
    show = host.run(f"systemctl show herd-{job}.timer -p Persistent -p RandomizedDelayUSec")
    assert "Persistent=yes" in show.stdout and "RandomizedDelayUSec=0" not in show.stdout


def test_disabled_job_has_no_active_timer_but_keeps_its_unit(host):
    timer = host.service("herd-statuses-remove.timer")
    assert not timer.is_enabled and not timer.is_running
    assert host.file("/etc/systemd/system/herd-statuses-remove.service").exists


@pytest.mark.parametrize("job", list(ENABLED_JOBS))
def test_job_started_by_hand_runs_the_right_tootctl_command(host, job):
    command, options = ENABLED_JOBS[job]
    before = len(tootctl_calls(host))
    assert start(host, f"herd-{job}.service").rc == 0
    calls = tootctl_calls(host)[before:]
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["command"] == command and call["user"] == "mastodon"
    assert all(call["options"][key] == value for key, value in options.items()), call
    assert status(host, job)["result"] == "success"


def test_media_remove_deletes_only_cached_media_older_than_the_retention(host):
    days = INVENTORY["maintenance_media_remove_days"]
    old = f"{CACHE}/media_attachments/files/000/000/101/original/old.jpg"
    fresh = f"{CACHE}/media_attachments/files/000/000/102/original/fresh.jpg"
    own = f"{LIVE}/public/system/media_attachments/files/000/000/103/original/own.jpg"
    old_file(host, old, days + 3)
    old_file(host, fresh, days - 3)
    old_file(host, own, days + 300)
    assert start(host, "herd-media-remove.service").rc == 0
    assert not host.file(old).exists
    assert host.file(fresh).exists and host.file(own).exists


def test_jobs_run_at_idle_priority_under_the_shared_lock(host):
    show = host.run("systemctl show herd-media-remove.service -p Nice -p IOSchedulingClass "
                    "-p CPUSchedulingPolicy -p User -p WorkingDirectory -p ExecStart").stdout
    assert "Nice=19" in show and "User=mastodon" in show and f"WorkingDirectory={LIVE}" in show
    assert "IOSchedulingClass=3" in show  # idle
    assert LOCK_FILE in show and "flock" in show


def test_cache_cleanup_prunes_under_quota_pressure(host):
    # Quota 1 MiB (molecule.yml): 2 MiB of 40-day-old media -> over high-water;
    # `media remove --days 30` brings it to 100 KiB (< 50 %), so nothing younger goes.
    assert INVENTORY["maintenance_cache_cleanup_quota_bytes"] == 1048576
    old = [f"{CACHE}/media_attachments/files/000/001/00{n}/original/o.jpg" for n in range(4)]
    for path in old:
        old_file(host, path, 40, size_kib=512)
    young = f"{CACHE}/media_attachments/files/000/002/001/original/y.jpg"
    old_file(host, young, 5, size_kib=100)
    before = len(tootctl_calls(host))
    assert start(host, "herd-cache-cleanup.service").rc == 0
    calls = tootctl_calls(host)[before:]
    assert [(c["command"], c["options"]["days"], c["user"]) for c in calls] == [
        (["media", "remove"], 30, "mastodon")]
    assert not any(host.file(p).exists for p in old) and host.file(young).exists
    assert status(host, "cache-cleanup")["result"] == "success"


def test_failing_job_is_recorded(host):
    failures = f"{STATUS_DIR}/failures.log"
    assert start(host, "herd-statuses-remove.service").rc != 0
    assert status(host, "statuses-remove")["result"] == "failed"
    for _ in range(20):  # OnFailure= starts the recorder right after the failure
        if host.file(failures).exists and "herd-statuses-remove.service" in \
                host.file(failures).content_string:
            break
        time.sleep(0.5)
    assert "herd-statuses-remove.service failed" in host.file(failures).content_string

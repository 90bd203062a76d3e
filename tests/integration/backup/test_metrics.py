"""What node_exporter's textfile collector reads after herd-backup runs: the time the
newest complete backup finished (the HerdBackupTooOld alert's input), kept through a
failed run, readable by the exporter's user, in a format Prometheus' own parser accepts."""

import subprocess
from datetime import datetime

import pytest
from support import listed, run_cli

pytestmark = pytest.mark.integration

METRIC = "herd_backup_last_complete_timestamp_seconds"  # the name the alert rule reads


def local(tmp_path) -> dict:
    return {"type": "local", "path": str(tmp_path / "store")}


def value(path) -> float:
    [line] = [line for line in path.read_text().splitlines() if line.startswith(METRIC + " ")]
    return float(line.split()[1])


@pytest.fixture
def textfiles(tmp_path):
    directory = tmp_path / "node-exporter"
    directory.mkdir()
    return directory


def test_a_complete_backup_publishes_when_it_finished(site, tmp_path, textfiles, promtool):
    metrics = textfiles / "herd_backup.prom"
    config = site.config(local(tmp_path), metrics_file=str(metrics))
    made = run_cli(config, "backup")
    assert made.returncode == 0, made.stderr

    [backup] = listed(config)
    assert value(metrics) == pytest.approx(
        datetime.fromisoformat(backup["finished_at"]).timestamp(), abs=0.001)
    assert oct(metrics.stat().st_mode & 0o777) == "0o644", "node_exporter runs as prometheus"
    assert [p.name for p in textfiles.iterdir()] == ["herd_backup.prom"], "no temporary left"
    checked = subprocess.run([promtool, "check", "metrics"], input=metrics.read_text(),  # noqa: S603
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_failed_backup_keeps_the_newest_complete_one(site, tmp_path, textfiles):
    metrics = textfiles / "herd_backup.prom"
    config = site.config(local(tmp_path), metrics_file=str(metrics))
    assert run_cli(config, "backup").returncode == 0
    before = metrics.read_text()
    site.pg.stop()
    try:
        failed = run_cli(config, "backup")
    finally:
        site.pg.start()
    assert failed.returncode != 0
    assert metrics.read_text() == before


def test_without_the_exporter_directory_nothing_is_written(site, tmp_path):
    missing = tmp_path / "no-exporter"
    config = site.config(local(tmp_path), metrics_file=str(missing / "herd_backup.prom"))
    made = run_cli(config, "backup")
    assert made.returncode == 0, made.stderr
    assert not missing.exists(), "the exporter's directory is its package's, not herd's"


def test_a_symlink_planted_at_the_metrics_file_is_replaced_not_followed(site, tmp_path,
                                                                       textfiles):
    victim = tmp_path / "victim"
    victim.write_text("not herd's\n")
    metrics = textfiles / "herd_backup.prom"
    metrics.symlink_to(victim)
    config = site.config(local(tmp_path), metrics_file=str(metrics))
    assert run_cli(config, "backup").returncode == 0
    assert victim.read_text() == "not herd's\n"
    assert not metrics.is_symlink() and METRIC in metrics.read_text()

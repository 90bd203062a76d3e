"""The verdict after a backup taken now (roles/backup run_now, before an upgrade): only a
success of *this* run lets the caller go on; an older success, a failure, a killed run
or no status at all stop it with the backup's id and why.

The status texts are written as herd-backup writes them (scripts/herd/cli/backup.py
`_backup`, through operations.write_status), the moment `since` by GNU date with the
format the role's task uses, on this machine's clock."""

import importlib.util
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from herd.backup import operations

PLUGIN = Path(__file__).resolve().parents[3] / "roles/backup/filter_plugins/backup_status.py"
spec = importlib.util.spec_from_file_location("backup_status", PLUGIN)
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)
verdict = plugin.backup_run_verdict

STATUS_FILE = "/var/lib/herd/backup.status"


def host_clock() -> str:
    """What run_now's "Note the host's clock" task records."""
    return subprocess.run(["date", "--utc", "+%Y-%m-%dT%H:%M:%S.%6N+00:00"],
                          capture_output=True, text=True, check=True).stdout.strip()


def written(tmp_path, status: dict) -> str:
    path = tmp_path / "backup.status"
    operations.write_status(str(path), status)
    return path.read_text()


def success(started: datetime, backup_id: str = "20261202T193000Z-ab12") -> dict:
    return {"result": "success", "exit_code": 0, "backup_id": backup_id,
            "started_at": started.isoformat(),
            "finished_at": (started + timedelta(seconds=42)).isoformat()}


def test_a_success_of_this_run_goes_on_and_names_the_backup(tmp_path):
    since = host_clock()
    text = written(tmp_path, success(datetime.now(UTC) + timedelta(milliseconds=5)))
    result = verdict(text, since, STATUS_FILE)
    assert result["ok"] is True
    assert result["backup_id"] == "20261202T193000Z-ab12"
    assert result["message"].startswith("backup 20261202T193000Z-ab12 complete")


def test_an_older_success_is_not_a_backup_of_now(tmp_path):
    old = success(datetime.now(UTC) - timedelta(hours=20), "20261201T031500Z-0ld1")
    result = verdict(written(tmp_path, old), host_clock(), STATUS_FILE)
    assert result["ok"] is False
    assert "20261201T031500Z-0ld1" in result["message"]
    assert "older" in result["message"] and STATUS_FILE in result["message"]


def test_a_run_a_second_before_the_noted_moment_is_older_too(tmp_path):
    # herd's isoformat() drops the fraction at a whole second; the comparison is by time.
    since = "2026-12-02T19:30:00.500000+00:00"
    earlier = success(datetime(2026, 12, 2, 19, 30, 0, tzinfo=UTC))
    later = success(datetime(2026, 12, 2, 19, 30, 1, tzinfo=UTC))
    assert json.loads(written(tmp_path, earlier))["started_at"] == "2026-12-02T19:30:00+00:00"
    assert verdict(written(tmp_path, earlier), since)["ok"] is False
    assert verdict(written(tmp_path, later), since)["ok"] is True


def test_a_failed_run_names_its_backup_kind_and_error(tmp_path):
    since = host_clock()
    text = written(tmp_path, {
        "result": "failure", "exit_code": 4, "kind": "StorageError",
        "error": "sftp 127.0.0.1:22: [Errno 111] Connection refused",
        "backup_id": "20261202T193001Z-cd34", "started_at": datetime.now(UTC).isoformat(),
        "finished_at": datetime.now(UTC).isoformat()})
    result = verdict(text, since, STATUS_FILE, "Unable to start service herd-backup.service")
    assert result["ok"] is False
    for shown in ("backup_id 20261202T193001Z-cd34", "result failure", "StorageError",
                  "exit_code 4", "Connection refused",
                  "Unable to start service herd-backup.service"):
        assert shown in result["message"]


def test_a_run_that_failed_before_naming_a_backup_says_so(tmp_path):
    # herd's status when the target cannot be opened: no backup id yet (null).
    text = written(tmp_path, {"result": "failure", "exit_code": 4, "kind": "StorageError",
                              "error": "timed out", "backup_id": None,
                              "started_at": datetime.now(UTC).isoformat()})
    result = verdict(text, host_clock())
    assert (result["ok"], result["backup_id"]) == (False, "")
    assert "(backup_id none, result failure, kind StorageError, exit_code 4): timed out" in (
        result["message"])


def test_a_killed_run_over_an_older_success_is_a_failure(tmp_path):
    # mark-failed (OnFailure=) keeps the older success's fields and says failure.
    status = success(datetime.now(UTC) + timedelta(seconds=1))
    status.update({"result": "failure", "exit_code": None, "kind": "UnitFailed",
                   "error": "herd-backup.service failed without herd recording why (killed?)",
                   "unit_failed": "herd-backup.service",
                   "unit_failed_at": datetime.now(UTC).isoformat()})
    result = verdict(written(tmp_path, status), host_clock())
    assert result["ok"] is False
    assert "UnitFailed" in result["message"] and "killed?" in result["message"]


@pytest.mark.parametrize("text", ["", "not json\n", "[]\n", '"success"\n'])
def test_no_status_is_no_backup(text):
    result = verdict(text, host_clock(), STATUS_FILE, "Unit herd-backup.service not found.")
    assert result["ok"] is False
    assert STATUS_FILE in result["message"]
    assert "Unit herd-backup.service not found." in result["message"]


def test_a_success_without_id_or_finish_time_is_refused(tmp_path):
    status = success(datetime.now(UTC) + timedelta(seconds=1))
    del status["finished_at"]
    assert verdict(written(tmp_path, status), host_clock())["ok"] is False


def test_a_noted_moment_that_is_no_time_is_an_error():
    with pytest.raises(ValueError, match="since"):
        verdict(json.dumps(success(datetime.now(UTC))), "Wed Dec  2 19:30:00 UTC 2026")

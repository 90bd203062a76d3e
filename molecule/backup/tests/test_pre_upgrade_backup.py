"""Before an upgrade changes anything (playbooks/pre-upgrade-backup.yml, imported by
upgrade.yml): a backup of now lands in the target and the run goes on; an unreachable
target or a host without herd-backup stops the run before the next play, saying why
and how to skip; the skip variable goes on without a backup and says so.

The playbook runs from the control node against the scenario's inventory, as an
operator runs it; the SFTP target is this container's own sshd (prepare.yml), which
the Ansible connection does not use (`sshd -i` through podman exec)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
[HOST] = [p["name"] for p in yaml.safe_load((SCENARIO / "molecule.yml").read_text())["platforms"]]
HERD = "/usr/local/sbin/herd-backup"
STATUS = "/var/lib/herd/backup.status"
WENT_ON = "/root/molecule-upgrade-went-on"
SKIP = "upgrade_skip_backup: true"
REFUSED = "No upgrade without a backup"


def upgrade_step(*extra: str) -> tuple[int, str]:
    """rc and the whitespace-normalised output of the backup step and its stand-in."""
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory),
         str(SCENARIO / "pre-upgrade.yml"), *extra],
        capture_output=True, text=True, check=False, timeout=600,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def backups(host) -> list[str]:
    return [b["id"] for b in json.loads(host.check_output(f"{HERD} list --json"))]


@pytest.fixture
def fresh(host):
    """No stand-in marker left from an earlier run; the ids and status before."""
    host.check_output(f"rm -f {WENT_ON}")
    return backups(host), host.file(STATUS).content_string


def test_a_backup_of_now_is_complete_in_the_target_before_the_upgrade(host, fresh):
    before, _ = fresh
    rc, out = upgrade_step()
    assert rc == 0, out
    status = json.loads(host.file(STATUS).content_string)
    assert status["result"] == "success"
    assert status["backup_id"] not in before, "a new backup, not the last one"
    assert status["backup_id"] in backups(host), "listed: its manifest is in the target"
    assert f"backup {status['backup_id']} complete" in out
    assert host.file(WENT_ON).exists, "the upgrade went on"


def test_an_unreachable_target_stops_the_upgrade_before_its_next_play(host, fresh):
    before, _ = fresh
    host.check_output("systemctl stop ssh.service")
    try:
        rc, out = upgrade_step()
    finally:
        host.check_output("systemctl start ssh.service; systemctl reset-failed herd-backup.service")
    status = json.loads(host.file(STATUS).content_string)
    assert rc != 0
    assert status["result"] == "failure"
    assert REFUSED in out and SKIP in out, out
    assert f"(backup_id {status['backup_id'] or 'none'}, result failure" in out, out
    assert "Stand-in for the upgrade" not in out
    assert not host.file(WENT_ON).exists, "nothing after the backup ran"
    assert backups(host) == before


def test_a_host_without_herd_backup_is_refused(host, fresh):
    host.check_output(f"mv {HERD} {HERD}.away")
    try:
        rc, out = upgrade_step()
    finally:
        host.check_output(f"mv {HERD}.away {HERD}")
    assert rc != 0
    assert (f"herd-backup is not installed on {HOST} ({HERD} missing): "
            "run playbooks/backup.yml first") in out, out
    assert SKIP in out
    assert not host.file(WENT_ON).exists


def test_the_skip_variable_goes_on_without_a_backup_and_says_so(host, fresh):
    before, status_before = fresh
    rc, out = upgrade_step("-e", "upgrade_skip_backup=true")
    assert rc == 0, out
    assert "upgrade_skip_backup is true: no backup is taken before this upgrade" in out
    assert host.file(WENT_ON).exists
    assert backups(host) == before
    assert host.file(STATUS).content_string == status_before, "herd-backup did not run"

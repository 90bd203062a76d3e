"""playbooks/pre-upgrade-backup.yml on this machine, as the first postgresql host of an
inventory with the shipped group name, in --check: a skip value that is no boolean is
refused by name, the skip variable goes on and says so, and a host without herd-backup
is refused with the way out (the backup itself runs in molecule/backup)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
HERD_BACKUP = Path("/usr/local/sbin/herd-backup")  # roles/backup README: the command


def run(tmp_path: Path, *extra: str) -> tuple[int, str]:
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({"postgresql": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), "--check",
         str(REPO / "playbooks/pre-upgrade-backup.yml"), *extra],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    return done.returncode, " ".join((done.stdout + done.stderr).split())


@pytest.mark.parametrize("value", ["maybe", "'true please'", "2"])
def test_a_skip_value_that_is_no_boolean_is_refused_by_name(tmp_path, value):
    rc, out = run(tmp_path, "-e", f"upgrade_skip_backup={value}")
    assert rc != 0
    assert "upgrade_skip_backup: must be true or false" in out, out[-2000:]


@pytest.mark.parametrize("value", ["true", "yes"])
def test_the_skip_variable_goes_on_and_says_so(tmp_path, value):
    rc, out = run(tmp_path, "-e", f"upgrade_skip_backup={value}")
    assert rc == 0, out[-2000:]
    assert "no backup is taken before this upgrade" in out


@pytest.mark.skipif(HERD_BACKUP.exists(), reason="herd-backup is installed on this machine")
@pytest.mark.parametrize("skip", [[], ["-e", "upgrade_skip_backup=false"]])
def test_without_herd_backup_the_upgrade_is_refused_with_the_way_out(tmp_path, skip):
    rc, out = run(tmp_path, *skip)
    assert rc != 0
    assert f"herd-backup is not installed on localhost ({HERD_BACKUP}" in out, out[-2000:]
    assert "missing): run playbooks/backup.yml first" in out
    assert "upgrade_skip_backup: true" in out

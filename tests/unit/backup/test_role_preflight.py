"""roles/backup refuses bad input in its preflight (--tags preflight --check on
localhost): nothing is changed, and the message names the variable and the fix."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
KEY = "bW9sZWN1bGUtYmFja3VwLXRlc3Qta2V5LTMyYnl0ZSE="
PLAYBOOK = """\
- name: Preflight of backup
  hosts: localhost
  connection: local
  gather_facts: true
  roles:
    - role: backup
"""

pytestmark = pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="needs ansible")


def preflight(tmp_path, **variables) -> subprocess.CompletedProcess:
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(PLAYBOOK)
    extra = tmp_path / "vars.json"
    # This interpreter: discovery may find a pyenv shim without a Python behind it.
    extra.write_text(json.dumps({"backup_encryption_key": KEY, "backup_s3_bucket": "b",
                                 "ansible_python_interpreter": sys.executable, **variables}))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "true",
           "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}
    return subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "--check", "--tags",
                           "preflight", "-e", f"@{extra}", str(playbook)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
                          check=False)


CASES = {
    "unknown target type": ({"backup_target_type": "ftp"}, ["backup_target_type", "s3"]),
    "S3 without bucket": ({"backup_s3_bucket": ""}, ["backup_s3_bucket: required"]),
    "SFTP without host key": (
        {"backup_target_type": "sftp", "backup_sftp_host": "h", "backup_sftp_user": "u",
         "backup_sftp_private_key": "k"}, ["backup_sftp_known_hosts_line", "ssh-keyscan"]),
    "retention below one": ({"backup_keep_weekly": 0},
                            ["backup_keep_daily / backup_keep_weekly", "at least 1"]),
    "malformed key": ({"backup_encryption_key": "short"},
                      ["backup_encryption_key", "head -c 32 /dev/urandom | base64"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_before_any_change(tmp_path, case):
    variables, needles = CASES[case]
    result = preflight(tmp_path, **variables)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    for needle in needles:
        assert needle in output, output[-2000:]


def test_good_input_passes(tmp_path):
    result = preflight(tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]

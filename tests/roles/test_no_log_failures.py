"""A task whose output no_log hides still fails with its name, the reason and what to
look at, never with the secret. Each role's task runs for real on this machine:
PostgreSQL's role creation against a port nothing listens on (its socket is
missing), Redis' redis.conf with a policy redis-server refuses, written to a
temporary path."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECRET = "no-log-test-secret-#$'-0123456789"
PLAYBOOK = """\
- name: One phase of {role}
  hosts: localhost
  connection: local
  gather_facts: true
  tasks:
    - name: Run the phase
      ansible.builtin.include_role:
        name: {role}
        tasks_from: {tasks}
"""


def run(tmp_path: Path, role: str, tasks: str, extra: dict,
        python: str = sys.executable) -> str:
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(role=role, tasks=tasks))
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"ansible_python_interpreter": python, **extra}))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
         "-e", f"@{variables}", str(playbook)],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
             "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "true",
             "ANSIBLE_LOCALHOST_WARNING": "false",
             # This machine has no sudo; root reaches postgres with su.
             "ANSIBLE_BECOME_METHOD": "su"})
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


def test_postgresql_role_creation_says_why_without_the_password(tmp_path):
    output = run(tmp_path, "postgresql", "database.yml", {
        "postgresql_mastodon_password": SECRET, "postgresql_version": "17",
        # Nothing listens here: the socket .s.PGSQL.1 does not exist.
        "postgresql_port": 1},
        # The postgres user cannot run this checkout's interpreter; the system's may
        # lack psycopg2, and then that is the reason given.
        python="/usr/bin/python3")
    assert "Create the Mastodon role (CREATEDB, like upstream's install guide) failed: " in output
    assert ".s.PGSQL.1" in output or "psycopg2" in output
    assert "systemctl status postgresql@17-main" in output
    assert SECRET not in output


def test_redis_conf_says_why_without_the_password(tmp_path):
    output = run(tmp_path, "redis", "configure.yml", {
        "redis_password": SECRET, "redis_maxmemory_policy": "no-eviction",
        "__redis_conf": str(tmp_path / "redis.conf")})
    assert "Write redis.conf" in output
    assert "refused the rendered" in output
    assert SECRET not in output
    assert not (tmp_path / "redis.conf").exists()

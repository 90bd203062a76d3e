"""Orders through the real `herd` process into a copy of the shipped fleet inventory;
then Ansible's own tools read what it wrote: ansible-vault decrypts the secrets,
ansible-inventory shows every value as ordered, and the site-wide preflight
(playbooks/preflight.yml, every role's input checks, backup's included) accepts the
generated inventory of two instances, on this machine in check mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PASSWORD = "an operator's vault password"
# A co-op's members-only server, with texts that trip naive quoting (#, $, quotes,
# newlines, emoji, Jinja): they must reach the roles as written.
COOP = {
    "name": "coop",
    "domain": "coop.example.org",
    "web_domain": "social.coop.example.org",
    "admin": {"username": "alice_admin", "email": "alice@coop.example.org"},
    "plan": "community",
    "registrations": "approved",
    "email_domain_allowlist": ["coop.example.org", "members.example.net",
                               "staff.example.com", "friends.example.edu"],
    "rules": [{"text": "Be kind #1 — no $HOME, no {{ lookup('pipe', 'id') }} 🐘",
               "hint": "It's \"quoted\"\nover two lines"},
              {"text": "No spam."}],
    "site": {"title": "Co-op 🐘 #social", "short_description": "We're a co-op: $5 a month",
             "extended_description": "Line one\n\nLine ${TWO} $(id)"},
    "placement": {"host": "host1.example.coop"},
}
# A community server with open sign-ups, placed wherever there is room.
TOWN = {
    "name": "town",
    "domain": "town.example.net",
    "admin": {"username": "owner", "email": "owner@town.example.net"},
    "plan": "small",
    "registrations": "open",
    "rules": [{"text": f"Rule {n}"} for n in range(1, 6)],
}


def herd(*args: str, fleet: Path, password: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "herd.cli.instance", "instance", args[0], "--fleet", str(fleet),
         "--vault-password-file", str(password), *args[1:]],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "scripts")})


def ansible(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / tool), *args], capture_output=True, text=True, check=False, timeout=900,
        cwd=REPO, env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                       "ANSIBLE_NOCOLOR": "1"})


@pytest.fixture(scope="module")
def ordered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("hosting")
    fleet = base / "fleet"
    # The shipped example as an operator starts from it (machines, plans, group_vars).
    shutil.copytree(REPO / "inventories/fleet", fleet)
    password = base / "vault-password"
    password.write_text(PASSWORD + "\n")
    for number, order in enumerate((COOP, TOWN)):
        path = base / f"order-{number}.{'json' if number else 'yml'}"
        path.write_text(json.dumps(order) if number else yaml.safe_dump(order,
                                                                        allow_unicode=True))
        result = herd("order", str(path), fleet=fleet, password=password)
        assert result.returncode == 0, result.stderr
    return fleet, password


def test_ansible_vault_decrypts_the_secrets(ordered):
    fleet, password = ordered
    result = ansible("ansible-vault", "view", "--vault-password-file", str(password),
                     str(fleet / "host_vars/coop/vault.yml"))
    assert result.returncode == 0, result.stderr
    secrets = yaml.safe_load(result.stdout)
    assert sorted(secrets) == ["vault_backup_encryption_key",
                               "vault_postgresql_mastodon_password", "vault_redis_password"]


def test_ansible_reads_every_value_as_ordered(ordered):
    fleet, password = ordered
    result = ansible("ansible-inventory", "-i", str(fleet / "hosts.yml"), "--host", "coop",
                     "--vault-password-file", str(password))
    assert result.returncode == 0, result.stderr
    host = json.loads(result.stdout)
    assert host["mastodon_server_rules"] == COOP["rules"]
    assert host["mastodon_site_title"] == COOP["site"]["title"]
    assert host["mastodon_site_short_description"] == COOP["site"]["short_description"]
    assert host["mastodon_site_extended_description"] == COOP["site"]["extended_description"]
    assert host["mastodon_email_domain_allowlist"] == COOP["email_domain_allowlist"]
    assert host["mastodon_web_domain"] == "social.coop.example.org"
    # Fleet-wide settings of the shipped group_vars still apply.
    assert host["tls_mode"] == "acme"


def test_the_site_preflight_accepts_the_generated_inventory(ordered, tmp_path):
    fleet, password = ordered
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        # Include the backup role's checks (the generated encryption key); its target
        # is the operator's (group_vars), here a bucket name.
        "herd_preflight_operations": ["backup"], "backup_s3_bucket": "fleet-backups",
        # The mastodon preflight probes its sources from the host: keep them local.
        "mastodon_git_url": str(REPO), "mastodon_node_source": "debian",
        "mastodon_ruby_source": "debian"}))
    result = ansible("ansible-playbook", "-i", str(fleet / "hosts.yml"), "--check",
                     "--vault-password-file", str(password), "-e", f"@{extra}",
                     "playbooks/preflight.yml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    recap = result.stdout[result.stdout.index("PLAY RECAP"):]
    for name in ("coop", "town"):
        assert f"{name} " in recap
    assert "failed=0" in recap and "failed=1" not in recap
    # The backup checks ran (on each instance's database host), not skipped.
    assert "TASK [backup : Require the encryption key" in result.stdout


def test_a_second_order_of_a_taken_domain_is_refused_by_the_process(ordered, tmp_path):
    fleet, password = ordered
    path = tmp_path / "again.yml"
    path.write_text(yaml.safe_dump({**TOWN, "name": "copycat"}))
    before = {p: p.read_bytes() for p in fleet.rglob("*") if p.is_file()}
    result = herd("order", str(path), fleet=fleet, password=password)
    assert result.returncode == 2
    assert "domain: town.example.net is already taken by instance town" in result.stderr
    assert {p: p.read_bytes() for p in fleet.rglob("*") if p.is_file()} == before

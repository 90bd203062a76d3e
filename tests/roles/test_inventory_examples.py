"""The shipped vault examples list every secret the playbooks need, and each
placeholder is refused by the preflight before any change (a forgotten one must not
pass a length check)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def run_with_example(inventory: str, playbook: str) -> subprocess.CompletedProcess:
    example = REPO / "inventories" / inventory / "group_vars/all/vault.yml.example"
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", f"inventories/{inventory}/hosts.yml", "--check",
         "-e", f"@{example}", "-e", "ansible_connection=local",
         "-e", f"ansible_python_interpreter={sys.executable}", f"playbooks/{playbook}"],
        capture_output=True, text=True, cwd=REPO, timeout=600, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})


def vault_names(inventory: str) -> list[str]:
    example = REPO / "inventories" / inventory / "group_vars/all/vault.yml.example"
    return sorted(yaml.safe_load(example.read_text()))


def referenced_vault_names(inventory: str) -> set[str]:
    import re

    text = "".join(path.read_text()
                   for path in (REPO / "inventories" / inventory).rglob("*.yml"))
    return set(re.findall(r"\b(vault_\w+)\b", text))


@pytest.mark.parametrize("inventory", ["production", "staging"])
def test_the_example_lists_every_secret_the_inventory_uses(inventory):
    assert referenced_vault_names(inventory) <= set(vault_names(inventory))


def test_production_backups_need_the_encryption_key_from_the_vault():
    assert "vault_backup_encryption_key" in vault_names("production")


@pytest.mark.parametrize("playbook", ["site.yml", "backup.yml"])
def test_production_placeholders_are_refused_by_name(playbook):
    result = run_with_example("production", playbook)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "CHANGE-ME placeholder" in output, output[-3000:]
    for name in ("vault_postgresql_mastodon_password", "vault_backup_encryption_key"):
        assert name in output

"""playbooks/upgrade.yml's order checks (roles/mastodon tasks/upgrade_preflight.yml)
against a real git repository: the stand-in's, built by build-repo.sh with the tags
v4.5.15 and v4.6.5 holding upstream's toolchain files (.ruby-version, Gemfile,
package.json), and a "running" checkout named by upstream's lib/mastodon/version.rb.

Each refusal comes before any change: the run is in --check mode, the checkout is
unchanged afterwards, and the throwaway clone of the target is gone."""

import getpass
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, refused

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
STANDIN = REPO / "molecule/shared/standin"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

PLAYBOOK = """\
- name: Upgrade order
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Order checks
      ansible.builtin.include_role:
        name: mastodon
        tasks_from: upgrade_preflight
"""


@pytest.fixture(scope="module")
def standin_repo(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("standin") / "mastodon.git"
    subprocess.run(["bash", str(STANDIN / "build-repo.sh"), "--no-safe-directory", str(dest)],
                   check=True, capture_output=True, timeout=120)
    return dest


def host_node_major() -> int | None:
    node = shutil.which("node", path="/usr/local/bin:/usr/bin:/bin")
    if not node:
        return None
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    return int(re.match(r"v?(\d+)", out).group(1))


@pytest.fixture
def upgrade_order(tmp_path, standin_repo):
    def run(running: str, target: str, **extra) -> subprocess.CompletedProcess:
        live = tmp_path / "live"
        (live / "lib/mastodon").mkdir(parents=True, exist_ok=True)
        version_rb = STANDIN / "releases" / running / "lib/mastodon/version.rb"
        shutil.copy(version_rb, live / "lib/mastodon/version.rb")
        playbook = tmp_path / "order.yml"
        playbook.write_text(PLAYBOOK)
        variables = tmp_path / "vars.json"
        variables.write_text(json.dumps({
            "ansible_python_interpreter": sys.executable,
            "mastodon_local_domain": "social.example.coop",
            "mastodon_user": getpass.getuser(),
            "mastodon_app_dir": str(live),
            "mastodon_git_url": str(standin_repo),
            "mastodon_version": target,
            "mastodon_node_source": "debian",
            "mastodon_ruby_source": "rbenv",
            **extra,
        }))
        before = set(Path("/tmp").glob("herd-upgrade-check.*"))
        result = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "--check", "-e", f"@{variables}",
             str(playbook)],
            capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
            env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                 "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "true",
                 "ANSIBLE_LOCALHOST_WARNING": "false",
                 "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"})
        # Read-only: the "running" checkout is as it was and no clone is left behind.
        assert (live / "lib/mastodon/version.rb").read_bytes() == version_rb.read_bytes()
        assert [path.name for path in live.iterdir()] == ["lib"]
        assert set(Path("/tmp").glob("herd-upgrade-check.*")) == before
        return result

    return run


def test_a_downgrade_is_refused(upgrade_order):
    result = upgrade_order("v4.6.5", "v4.5.15")
    assert refused(result, "mastodon_version: v4.5.15 is older than the running v4.6.5",
                   "playbooks/restore.yml")


def test_a_release_the_repository_lacks_is_refused(upgrade_order):
    result = upgrade_order("v4.5.15", "v4.7.0")
    assert refused(result, "mastodon_version: v4.7.0 is not a tag of mastodon_git_url")


def test_the_target_nodes_engines_are_checked_against_the_hosts_node(upgrade_order):
    # The stand-in's v4.6.5 package.json says engines.node ">=22", as upstream's does
    # (package.json lines 5-7 at 1440d55b). The host's Node decides the outcome.
    major = host_node_major()
    if major is None:
        pytest.skip("no node on this machine")
    result = upgrade_order("v4.5.15", "v4.6.5")
    node_refusal = "v4.6.5 requires Node >=22 (package.json engines.node)"
    output = result.stdout + result.stderr
    if major >= 22:
        assert node_refusal not in output
    else:
        assert refused(result, "mastodon_node_source:", node_refusal)


def test_a_ruby_the_targets_gemfile_refuses_is_refused(upgrade_order):
    # The stand-in's v4.6.5 Gemfile: ruby '>= 3.3.0', '< 4.1.0' (upstream's line 4).
    result = upgrade_order("v4.5.15", "v4.6.5", mastodon_ruby_version="3.2.9")
    assert refused(result, "mastodon_ruby_version: Ruby 3.2.9 does not satisfy v4.6.5's "
                           "Gemfile requirement (>= 3.3.0, < 4.1.0)")


def test_the_same_release_passes(upgrade_order):
    # v4.5.15's engines.node is ">=20" (upstream bf046ffa package.json): any Node 20+.
    major = host_node_major()
    if major is None or major < 20:
        pytest.skip("needs Node 20 or later on this machine")
    result = upgrade_order("v4.5.15", "v4.5.15")
    assert result.returncode == 0, result.stdout + result.stderr

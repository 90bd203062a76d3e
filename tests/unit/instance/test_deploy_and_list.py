"""`herd instance deploy NAME` runs site.yml limited to that instance; `herd instance
list` shows the fleet from its inventory and, with --facts, what the roles recorded on
the hosts. Ansible is a fake on PATH that records its argv (and answers as Ansible's
json callback does)."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
GIB = 1024**3

FAKE = """#!{python}
import json, os, sys
with open(os.environ["FAKE_ARGV_LOG"], "a") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
answers = os.environ.get("FAKE_ANSWERS")
if answers:
    module = sys.argv[sys.argv.index("-m") + 1]
    sys.stdout.write(json.dumps(json.load(open(answers))[module]))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


@pytest.fixture
def fake_ansible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("ansible-playbook", "ansible"):
        path = bin_dir / name
        path.write_text(FAKE.format(python=sys.executable))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "argv.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ARGV_LOG", str(log))
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def order_two(herd, order_file):
    assert herd("order", str(order_file()))[0] == 0
    assert herd("order", str(order_file(name="town", domain="town.example.org",
                                        web_domain=None, plan="tiny",
                                        placement={"host": "small.example.net"})))[0] == 0


def test_deploy_runs_site_yml_limited_to_the_instance(herd, order_file, fleet, fake_ansible,
                                                      password_file):
    order_two(herd, order_file)
    code, _, err = herd("deploy", "town")
    assert code == 0, err
    [argv] = calls(fake_ansible)
    assert argv[0] == "ansible-playbook"
    assert argv[argv.index("-i") + 1] == str(fleet / "hosts.yml")
    assert argv[argv.index("--limit") + 1] == "town"
    assert argv[argv.index("--vault-password-file") + 1] == str(password_file)
    assert str(REPO / "playbooks/site.yml") in argv


def test_deploy_passes_options_after_the_double_dash(herd, order_file, fake_ansible):
    order_two(herd, order_file)
    assert herd("deploy", "coop", "--", "--check", "--diff")[0] == 0
    [argv] = calls(fake_ansible)
    assert argv[-2:] == ["--check", "--diff"]


def test_deploying_an_unknown_instance_runs_nothing(herd, order_file, fake_ansible):
    order_two(herd, order_file)
    code, _, err = herd("deploy", "elsewhere")
    assert code == 2 and "'elsewhere' is no instance" in err and "coop, town" in err
    assert calls(fake_ansible) == []


def test_a_failed_playbook_is_exit_3(herd, order_file, fake_ansible, monkeypatch):
    order_two(herd, order_file)
    monkeypatch.setenv("FAKE_EXIT", "2")
    code, _, err = herd("deploy", "coop")
    assert code == 3 and "ansible-playbook exited with 2" in err


def test_list_shows_the_inventory_and_marks_the_rest_unknown(herd, order_file, fake_ansible):
    order_two(herd, order_file)
    code, out, _ = herd("list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(row["name"], row["domain"], row["host"], row["plan"]) for row in rows] == [
        ("coop", "coop.example.org", "big.example.net", "community"),
        ("town", "town.example.org", "small.example.net", "tiny")]
    # The fleet's group_vars set no release: the mastodon role's default, v4.6.5.
    assert rows[0]["release"] == "v4.6.5 (inventory)"
    assert {row["state"] for row in rows} == {"unknown"}
    assert calls(fake_ansible) == []
    code, out, _ = herd("list")
    assert out.splitlines()[0].split() == ["NAME", "DOMAIN", "HOST", "PLAN", "RELEASE",
                                           "STATE", "LAST_BACKUP", "BACKUP_AGE", "DISK_USE"]
    assert out.splitlines()[1].split()[:4] == ["coop", "coop.example.org", "big.example.net",
                                               "community"]


def callback(results: dict) -> dict:
    """Ansible's json callback (ansible.posix.json): plays, tasks, each host's result."""
    return {"plays": [{"tasks": [{"hosts": results}]}], "stats": {}}


def test_list_with_facts_reads_what_the_roles_recorded(herd, order_file, fake_ansible,
                                                       tmp_path, monkeypatch):
    order_two(herd, order_file)
    # herd-backup's status file after a successful run (scripts/herd/cli/backup.py).
    status = {"result": "success", "exit_code": 0, "backup_id": "20261201T030000Z",
              "started_at": "2026-12-01T03:00:00+00:00",
              "finished_at": "2026-12-01T03:10:00+00:00"}
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({
        "ansible.builtin.setup": callback({
            "coop": {"ansible_facts": {
                "ansible_local": {"herd_mastodon": {"units": {}, "app_dir": "/home/mastodon/live",
                                                    "release": "v4.5.15"}},
                # /home holds the app directory; /home/mast is another filesystem whose
                # name is only a prefix of it.
                "ansible_mounts": [
                    {"mount": "/", "size_total": 20 * GIB, "size_available": 19 * GIB},
                    {"mount": "/home", "size_total": 200 * GIB, "size_available": 50 * GIB},
                    {"mount": "/home/mast", "size_total": 10 * GIB, "size_available": 0}]}},
            "town": {"unreachable": True, "msg": "ssh: connect timed out"}}),
        "ansible.builtin.slurp": callback({
            "coop": {"content": base64.b64encode(json.dumps(status).encode()).decode()}}),
    }))
    monkeypatch.setenv("FAKE_ANSWERS", str(answers))
    from datetime import UTC, datetime

    from herd.instance import listing
    from herd.instance.fleet import Fleet

    fleet = Fleet(tmp_path / "fleet")
    rows = listing.inventory_rows(fleet)
    listing.add_facts(fleet, rows, None, now=datetime(2026, 12, 2, 9, 10, tzinfo=UTC))
    coop, town = rows
    assert (coop["state"], coop["last_backup"], coop["backup_age"]) == (
        "deployed", "20261201T030000Z", "30h")
    # The release the role recorded, not the inventory's; 150 of 200 GiB not available.
    assert coop["release"] == "v4.5.15"
    assert coop["disk_use"] == "75% of 200G"
    assert town["state"] == "unreachable" and town["last_backup"] == "unknown"
    setup, slurp = calls(fake_ansible)
    assert setup[0] == "ansible"
    assert setup[setup.index("-a") + 1] == "filter=ansible_local,ansible_mounts"
    assert setup[3] == "coop,town"
    # Only the reachable instance is asked for the backup role's status file (its default).
    assert slurp[3] == "coop" and slurp[slurp.index("-a") + 1] == "src=/var/lib/herd/backup.status"


@pytest.mark.parametrize(("mounts", "path", "shown"), [
    ([], "/home/mastodon/live", "unknown"),
    ([{"mount": "/", "size_total": 0, "size_available": 0}], "/home/mastodon/live", "unknown"),
    # A fact written before the role recorded its app directory.
    ([{"mount": "/", "size_total": 8 * GIB, "size_available": 2 * GIB}], "", "unknown"),
    ([{"mount": "/", "size_total": 8 * GIB, "size_available": 2 * GIB}], "/srv/m", "75% of 8.0G"),
])
def test_disk_use_of_the_app_directory_filesystem(mounts, path, shown):
    from herd.instance import listing

    assert listing.disk_use(mounts, path) == shown

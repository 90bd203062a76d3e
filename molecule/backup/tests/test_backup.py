"""What an operator notices: the timer is scheduled, a run succeeds and says so, the
backup is listed and restores, cache/ is left out, a failure is recorded."""

import json

import pytest

HERD = "/usr/local/sbin/herd-backup"
STATUS = "/var/lib/herd/backup.status"
STORE = "/home/backupstore/backups"

# Lists the uploads archive of a stored backup with herd's own decryption.
LIST_UPLOADS = r"""
import sys, tarfile
from herd.backup import crypto
from herd.backup.pipeline import IterReader, gunzip
key = crypto.load_key('/etc/herd/backup.key')
with open(sys.argv[1], 'rb') as f:
    chunks = iter(lambda: f.read(1 << 20), b'')
    with tarfile.open(fileobj=IterReader(gunzip(crypto.decrypt(key, chunks, 'uploads'))),
                      mode='r|') as tar:
        print('\n'.join(m.name for m in tar))
"""


# Restore into a new database, count and name the owner, drop it again.
RESTORE_AND_COUNT = """
herd-backup restore --parts database --database mastodon_restored >/dev/null 2>&1 || exit 1
q() { runuser -u postgres -- psql -X -A -t -d mastodon_restored -c "$1"; }
q 'SELECT count(*) FROM statuses'
q "SELECT tableowner FROM pg_tables WHERE tablename = 'statuses'"
runuser -u postgres -- psql -X -q -c 'DROP DATABASE mastodon_restored'
"""


def status(host) -> dict:
    return json.loads(host.file(STATUS).content_string)


# Each host.run is a round trip through Ansible (seconds): tests group their commands.


def test_timer_is_enabled_and_scheduled(host):
    out = host.check_output(
        "systemctl is-enabled herd-backup.timer; systemctl is-active herd-backup.timer; "
        "systemctl show herd-backup.timer -p NextElapseUSecRealtime; "
        "systemctl cat herd-backup.service").splitlines()
    assert out[:2] == ["enabled", "active"]
    assert out[2].split("=", 1)[1].strip(), "the timer has a next run"
    assert {"Nice=19", "IOSchedulingClass=idle", "OnFailure=herd-backup-failure.service"} <= set(
        out[3:])


def test_secrets_are_root_only(host):
    out = host.check_output("stat -c '%U %a' /etc/herd/backup.yml /etc/herd/backup.key "
                            "/etc/herd/backup_ssh_key")
    assert out.splitlines() == ["root 600"] * 3


@pytest.fixture(scope="module")
def forced_run(host):
    started = host.run(f"systemctl start herd-backup.service && cat {STATUS}")
    assert started.rc == 0, started.stderr
    return json.loads(started.stdout)


def test_forced_run_succeeds_and_is_listed(host, forced_run):
    assert forced_run["result"] == "success"
    listed = json.loads(host.check_output(f"{HERD} list --json"))
    [manifest] = [b for b in listed if b["id"] == forced_run["backup_id"]]
    assert manifest["mastodon_release"] == "4.3.2"
    assert {p["name"] for p in manifest["parts"]} >= {"database.dump", "env.production",
                                                      "secrets", "uploads.tar.gz"}


def test_cache_is_not_in_the_backup(host, forced_run):
    part = f"{STORE}/{forced_run['backup_id']}/uploads.tar.gz"
    names = host.check_output("PYTHONPATH=/opt/herd/lib python3 -c %s %s",
                              LIST_UPLOADS, part).splitlines()
    assert "media_attachments/files/000/000/001/original/local.jpg" in names
    assert "accounts/avatars/000/000/001/original/avatar.png" in names
    assert not [name for name in names if name.startswith("cache")]


def test_backup_restores_into_a_new_database_but_not_over_the_live_one(host, forced_run):
    out = host.run(RESTORE_AND_COUNT)
    assert out.stdout.split() == ["1000", "mastodon"], out.stderr
    refused = host.run(f"{HERD} restore --parts database")
    assert refused.rc == 2
    assert "--force-nonempty" in refused.stderr


def test_failed_run_is_recorded(host, forced_run):
    out = host.run(
        "systemctl stop postgresql.service; systemctl start herd-backup.service; rc=$?; "
        f"systemctl start postgresql.service; systemctl reset-failed herd-backup.service; "
        f"echo $rc; cat {STATUS}; echo; {HERD} list --json")
    rc, recorded, listed = out.stdout.split("\n", 2)
    assert rc != "0"
    recorded = json.loads(recorded)
    assert (recorded["result"], recorded["kind"]) == ("failure", "CommandFailed")
    assert recorded["unit_failed"] == "herd-backup.service", "OnFailure= marker ran"
    assert [b["id"] for b in json.loads(listed)] == [forced_run["backup_id"]], (
        "the failed run left nothing listed")

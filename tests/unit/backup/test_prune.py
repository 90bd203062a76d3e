"""prune on a real (local-directory) target: retention by manifest time, the newest
complete backup always kept, incomplete leftovers removed only once stale."""

import base64
import json
import os
from datetime import timedelta

import pytest
from herd.backup import config as backup_config
from herd.backup import operations
from herd.backup.manifest import Manifest, new_id
from herd.log import StepLog


@pytest.fixture
def setup(tmp_path):
    key = tmp_path / "key"
    key.write_text(base64.b64encode(os.urandom(32)).decode())
    store = tmp_path / "store"
    cfg = backup_config.parse({
        "target": {"type": "local", "path": str(store)}, "key_file": str(key),
        "retention": {"keep_daily": 2, "keep_weekly": 1, "keep_monthly": 1},
        "lock_file": str(tmp_path / "lock"), "status_file": str(tmp_path / "status")})
    return cfg, store


def complete(store, when) -> str:
    backup_id = new_id(when)
    manifest = Manifest(id=backup_id, started_at=when.isoformat(), finished_at=when.isoformat(),
                        host="h", key_id="k", mastodon_release="4.3.2",
                        postgresql_server_version="15", database="db")
    (store / backup_id).mkdir(parents=True)
    (store / backup_id / "database.dump").write_bytes(b"x")
    (store / backup_id / "manifest.json").write_bytes(manifest.to_json())
    return backup_id


def incomplete(store, when) -> str:
    backup_id = new_id(when)
    (store / backup_id).mkdir(parents=True)
    (store / backup_id / "database.dump.partial").write_bytes(b"x")
    return backup_id


def test_prune_applies_retention_and_cleans_stale_leftovers(setup, capsys):
    cfg, store = setup
    now = operations.now()
    days = [complete(store, now - timedelta(days=d, hours=1)) for d in (0, 1, 2, 3)]
    stale = incomplete(store, now - timedelta(days=2))
    running = incomplete(store, now - timedelta(minutes=5))
    log = StepLog("test", structured=True)

    preview = operations.prune(cfg, log, dry_run=True)
    assert sorted(preview) == sorted([days[2], days[3], stale])
    assert len(list(store.iterdir())) == 6, "a dry run deletes nothing"

    operations.prune(cfg, log)
    assert sorted(p.name for p in store.iterdir()) == sorted([days[0], days[1], running])
    listed = [m.id for m in operations.complete_backups(operations.open_store(cfg.target), log)]
    assert listed == [days[1], days[0]], "an incomplete backup is never listed"


@pytest.mark.parametrize("change", [
    {"format": 2}, {"finished_at": ""}, {"finished_at": "2024-01-01T03:00:00"},
    {"started_at": "yesterday"}, {"id": "20230101T000000Z"}, {"parts": [{"name": 1}]},
    {"database": ["not", "a", "name"]}])
def test_prune_keeps_a_backup_whose_manifest_it_cannot_read(setup, change, capsys):
    cfg, store = setup
    now = operations.now()
    newest = complete(store, now)
    odd = complete(store, now - timedelta(days=30))
    path = store / odd / "manifest.json"
    path.write_bytes(json.dumps({**json.loads(path.read_bytes()), **change}).encode())

    deleted = operations.prune(cfg, StepLog("test", structured=True))
    assert deleted == []
    assert sorted(p.name for p in store.iterdir()) == sorted([newest, odd])
    err = capsys.readouterr().err
    assert f'"backup": "{odd}"' in err and '"unknown": 1' in err


def test_a_manifest_of_the_previous_release_still_reads(setup):
    _, store = setup
    backup_id = complete(store, operations.now())
    data = json.loads((store / backup_id / "manifest.json").read_bytes())
    del data["extensions"]  # written before herd recorded extensions
    manifest = Manifest.from_json(json.dumps(data).encode(), backup_id)
    assert (manifest.id, manifest.extensions) == (backup_id, [])


def test_a_manifest_that_is_a_directory_is_skipped_not_fatal(setup, capsys):
    cfg, store = setup
    now = operations.now()
    newest = complete(store, now - timedelta(days=1))
    odd = new_id(now - timedelta(days=40))
    (store / odd / "manifest.json").mkdir(parents=True)

    assert operations.prune(cfg, StepLog("test", structured=True)) == []
    assert sorted(p.name for p in store.iterdir()) == sorted([newest, odd])
    assert f'"backup": "{odd}"' in capsys.readouterr().err

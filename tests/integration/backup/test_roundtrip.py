"""Backup -> wipe -> restore gives back the same data, on S3 (moto) and SFTP (OpenSSH)."""

import json
import shutil
import tarfile

import pytest
from herd.backup import crypto
from herd.backup.pipeline import IterReader, gunzip
from support import DATABASE, listed, run_cli

pytestmark = pytest.mark.integration


def local(tmp_path) -> dict:
    """Where the target does not matter to the behaviour under test: the quickest one."""
    return {"type": "local", "path": str(tmp_path / "store")}


def wipe(site) -> None:
    site.pg.psql(f"DROP DATABASE {DATABASE}")
    shutil.rmtree(site.root / "public")
    (site.root / ".env.production").unlink()
    (site.root / "config/herd-secrets.yml").unlink()


@pytest.mark.parametrize("target", ["s3_target", "sftp_target"])
def test_backup_wipe_restore_gives_identical_data(site, target, request):
    config = site.config(request.getfixturevalue(target))
    before, files = site.snapshot(), site.files()

    made = run_cli(config, "backup")
    assert made.returncode == 0, made.stderr
    [backup] = listed(config)
    assert backup["mastodon_release"] == "4.3.2"
    assert backup["postgresql_server_version"].startswith(site.pg.bin.parts[-2])
    assert {p["name"] for p in backup["parts"]} == {
        "database.dump", "env.production", "secrets", "uploads.tar.gz"}
    status = json.loads((site.tmp / "backup.status").read_text())
    assert (status["result"], status["backup_id"]) == ("success", backup["id"])

    wipe(site)
    restored = run_cli(config, "restore")
    assert restored.returncode == 0, restored.stderr

    assert site.snapshot() == before
    expected = {name: data for name, data in files.items()
                if not name.startswith("public/system/cache/")}
    assert site.files() == {**expected, **{n: d for n, d in files.items()
                                           if n.startswith("lib/")}}
    assert not (site.root / "public/system/cache").exists(), "cache/ must not be backed up"
    assert oct((site.root / ".env.production").stat().st_mode & 0o777) == "0o600"


def test_uploads_part_leaves_out_cache(site, tmp_path):
    storage = tmp_path / "store"
    config = site.config({"type": "local", "path": str(storage)})
    assert run_cli(config, "backup").returncode == 0
    [backup] = listed(config)
    # Decrypt the stored part with herd's own reader and list the archive.
    key = crypto.load_key(str(site.key_file))
    stored = (storage / backup["id"] / "uploads.tar.gz").read_bytes()
    reader = IterReader(gunzip(crypto.decrypt(key, [stored], "uploads")))
    with tarfile.open(fileobj=reader, mode="r|") as tar:
        names = [member.name for member in tar]
    assert "media_attachments/files/000/000/001/original/photo.jpg" in names
    assert not [name for name in names if name.startswith("cache")]


def test_restore_refuses_nonempty_database_unless_forced(site, tmp_path):
    config = site.config(local(tmp_path))
    assert run_cli(config, "backup").returncode == 0
    site.pg.psql("INSERT INTO accounts (username) VALUES ('added-after-backup')", DATABASE)

    refused = run_cli(config, "restore", "--parts", "database")
    assert refused.returncode == 2
    assert "not empty" in refused.stderr and "--force-nonempty" in refused.stderr
    assert site.pg.psql("SELECT count(*) FROM accounts", DATABASE) == "501"

    forced = run_cli(config, "restore", "--parts", "database", "--force-nonempty")
    assert forced.returncode == 0, forced.stderr
    assert site.pg.psql("SELECT count(*) FROM accounts", DATABASE) == "500"


def test_restore_into_a_new_database_by_name(site, sftp_target):
    config = site.config(sftp_target, restore={"jobs": 1})
    assert run_cli(config, "backup").returncode == 0
    [backup] = listed(config)
    try:
        done = run_cli(config, "restore", "--backup", backup["id"], "--parts", "database",
                       "--database", "mastodon_copy")
        assert done.returncode == 0, done.stderr
        assert site.pg.psql("SELECT count(*) FROM statuses", "mastodon_copy") == "20000"
        assert site.pg.psql("SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_class "
                            "WHERE relname = 'statuses'", "mastodon_copy") == "mastodon"
    finally:
        site.pg.psql("DROP DATABASE IF EXISTS mastodon_copy")


def test_verify_restores_into_scratch_database_and_drops_it(site, tmp_path):
    config = site.config(local(tmp_path))
    assert run_cli(config, "backup").returncode == 0
    checked = run_cli(config, "verify")
    assert checked.returncode == 0, checked.stderr
    verified = [json.loads(line) for line in checked.stderr.splitlines()
                if '"verified"' in line][0]
    assert verified["tables"] == 4
    assert verified["rows"] == {"accounts": 500, "statuses": 20000, "users": 500}
    assert "herd_verify" not in site.pg.psql("SELECT string_agg(datname, ',') FROM pg_database")


def test_prune_keeps_newest_and_runs_only_after_success(site, tmp_path):
    config = site.config(local(tmp_path), retention={"keep_daily": 1, "keep_weekly": 1,
                                               "keep_monthly": 1})
    for _ in range(2):
        assert run_cli(config, "backup", "--no-prune").returncode == 0
    assert len(listed(config)) == 2
    preview = run_cli(config, "prune", "--dry-run")
    assert preview.returncode == 0 and len(listed(config)) == 2
    newest = listed(config)[-1]["id"]
    assert run_cli(config, "prune").returncode == 0
    assert [b["id"] for b in listed(config)] == [newest]

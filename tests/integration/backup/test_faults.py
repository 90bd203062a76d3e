"""Fault drills: each ends with a clear error, its own exit code, nothing lost and
nothing half-finished listed or restorable."""

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support import listed, run_cli, start_cli, wait_for_line

pytestmark = pytest.mark.integration

CONFIG, COMMAND, STORAGE, INTEGRITY, INTERRUPTED, LOCK = 2, 3, 4, 5, 6, 7


def status(site) -> dict:
    return json.loads((site.tmp / "backup.status").read_text())


def test_s3_endpoint_killed_mid_upload(site, s3_target, s3_server, proxy):
    direct = site.config(s3_target)
    assert run_cli(direct, "backup").returncode == 0
    [earlier] = listed(direct)

    relay = proxy(bytes_per_second=4 * 1024 * 1024)
    through_proxy = site.config({**s3_target, "endpoint_url": f"http://127.0.0.1:{relay.port}"})
    running = start_cli(through_proxy, "backup")
    wait_for_line(running.stderr, '"part": "database.dump"')
    while relay.forwarded < 6 * 1024 * 1024:  # inside the multipart upload
        time.sleep(0.05)
    relay.kill()
    _, stderr = running.communicate(timeout=90)

    assert running.returncode == STORAGE, stderr
    assert "S3 upload of" in stderr
    assert [b["id"] for b in listed(direct)] == [earlier["id"]], "only the complete backup"
    assert status(site)["result"] == "failure" and status(site)["exit_code"] == STORAGE
    still = run_cli(direct, "restore", "--dry-run", "--database", "mastodon_elsewhere")
    assert still.returncode == 0, still.stderr  # the earlier backup is still restorable


def test_sftp_host_key_mismatch(site, sftp_target, sftp_server, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, blob = (tmp_path / "other_key.pub").read_text().split()[:2]
    config = site.config({**sftp_target, "known_hosts_line": f"[127.0.0.1]:{sftp_server.port} "
                                                             f"{kind} {blob}"})
    result = run_cli(config, "backup")
    assert result.returncode == STORAGE
    assert "host key mismatch" in result.stderr
    assert "target.known_hosts_line" in result.stderr
    assert not Path(sftp_target["path"]).exists(), "nothing written to an unverified server"


def test_wrong_key_refuses_before_touching_anything(site, s3_target):
    config = site.config(s3_target)
    assert run_cli(config, "backup").returncode == 0
    site.key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    result = run_cli(config, "restore", "--database", "mastodon_wrong_key")
    assert result.returncode == INTEGRITY
    assert "wrong decryption key" in result.stderr
    assert site.pg.psql("SELECT count(*) FROM pg_database WHERE datname = "
                        "'mastodon_wrong_key'") == "0"


def test_corrupted_part_is_caught_before_restore(site, tmp_path):
    storage = tmp_path / "store"
    config = site.config({"type": "local", "path": str(storage)})
    assert run_cli(config, "backup").returncode == 0
    [backup] = listed(config)
    part = storage / backup["id"] / "uploads.tar.gz"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.write_bytes(bytes(data))
    env_before = (site.root / ".env.production").read_bytes()
    (site.root / ".env.production").write_text("CHANGED=1\n")

    result = run_cli(config, "restore", "--database", "mastodon_corrupt")
    assert result.returncode == INTEGRITY
    assert "uploads.tar.gz" in result.stderr and "corrupted" in result.stderr
    # The database part came first and was intact, yet nothing was restored.
    assert site.pg.psql("SELECT count(*) FROM pg_database WHERE datname = "
                        "'mastodon_corrupt'") == "0"
    assert (site.root / ".env.production").read_text() == "CHANGED=1\n"
    assert env_before != b"CHANGED=1\n"


@pytest.fixture
def tiny_mount(tmp_path):
    """A 2 MiB tmpfs: a real disk-full, not a simulation."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_disk_full_during_restore(site, tmp_path, tiny_mount):
    storage = tmp_path / "store"
    # Big enough to pass the up-front space check, too small for the real uploads.
    (site.root / "public/system/media_attachments/big.bin").write_bytes(os.urandom(3 << 20))
    config = site.config({"type": "local", "path": str(storage)},
                         mastodon={"root": str(site.root), "uploads_dir": str(tiny_mount)})
    source = site.config({"type": "local", "path": str(storage)})
    assert run_cli(source, "backup").returncode == 0

    result = run_cli(config, "restore", "--parts", "uploads")
    assert result.returncode == STORAGE
    assert "local disk full" in result.stderr

    # The database dump needs more room than a tiny work_dir has: refused up front.
    no_room = site.config({"type": "local", "path": str(storage)},
                          restore={"work_dir": str(tiny_mount), "jobs": 2})
    refused = run_cli(no_room, "restore", "--parts", "database", "--database", "mastodon_full")
    assert refused.returncode == STORAGE
    assert "restore.work_dir" in refused.stderr
    assert site.pg.psql("SELECT count(*) FROM pg_database WHERE datname = "
                        "'mastodon_full'") == "0"


def test_sigterm_during_backup(site, s3_target, s3_server, proxy):
    relay = proxy(bytes_per_second=2 * 1024 * 1024)
    config = site.config({**s3_target, "endpoint_url": f"http://127.0.0.1:{relay.port}"})
    running = start_cli(config, "backup")
    wait_for_line(running.stderr, '"part": "database.dump"')
    while relay.forwarded < 6 * 1024 * 1024:  # one part stored, the next on its way
        time.sleep(0.05)
    running.send_signal(signal.SIGTERM)
    _, stderr = running.communicate(timeout=60)

    assert running.returncode == INTERRUPTED, stderr
    assert "discarded" in stderr
    assert listed(config) == []
    client = s3_server.client()
    left = client.list_objects_v2(Bucket=s3_target["bucket"]).get("KeyCount", 0)
    uploads = client.list_multipart_uploads(Bucket=s3_target["bucket"]).get("Uploads", [])
    assert (left, uploads) == (0, []), "partial parts and multipart uploads cleaned up"
    assert status(site)["kind"] == "Interrupted"


def test_database_down(site, s3_target, s3_server):
    config = site.config(s3_target)
    site.pg.stop()
    try:
        result = run_cli(config, "backup")
    finally:
        site.pg.start()
    assert result.returncode == COMMAND
    assert "psql exited" in result.stderr
    assert s3_server.client().list_objects_v2(Bucket=s3_target["bucket"])["KeyCount"] == 0
    assert status(site)["result"] == "failure"


def test_lock_held_by_another_run(site, tmp_path):
    import fcntl

    config = site.config({"type": "local", "path": str(tmp_path / "store")})
    with (site.tmp / "backup.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result = run_cli(config, "backup")
    assert result.returncode == LOCK
    assert "holds" in result.stderr
    assert not (tmp_path / "store").exists()


def test_bad_config_refused_before_any_change(site, tmp_path):
    config = site.config({"type": "s3", "endpoint_url": "http://127.0.0.1:9"})
    result = run_cli(config, "backup")
    assert result.returncode == CONFIG
    assert "target.bucket: required" in result.stderr
    assert not (site.tmp / "backup.status").exists()


def test_multipart_upload_of_a_killed_run_is_aborted_by_the_next(site, s3_target, s3_server,
                                                                 proxy):
    relay = proxy(bytes_per_second=1024 * 1024)
    slow = site.config({**s3_target, "endpoint_url": f"http://127.0.0.1:{relay.port}"})
    running = start_cli(slow, "backup")
    wait_for_line(running.stderr, '"part": "database.dump"')
    while relay.forwarded < 1024 * 1024:  # inside the first part of the multipart upload
        time.sleep(0.05)
    running.kill()  # SIGKILL: no clean-up of its own
    running.communicate(timeout=30)
    client, bucket = s3_server.client(), s3_target["bucket"]
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads"), "precondition"
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0, "not even listed by prune"

    direct = site.config(s3_target)
    made = run_cli(direct, "backup")
    assert made.returncode == 0, made.stderr
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "aborted dead upload" in made.stderr

"""The run lock cannot be blocked or redirected by another local user: it lives in a
directory only its owner can write, and a lock_file in a directory others can write
(like the world-writable /run/lock) is refused before anything runs."""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from support import REPO, listed, run_cli

pytestmark = pytest.mark.integration

CONFIG = 2
OLD_LOCK = Path("/run/lock/herd-backup.lock")  # the lock path of herd before this fix
# The role's default (roles/backup/defaults/main.yml), which this run then leaves behind.
NEW_LOCK_DIR = Path(yaml.safe_load((REPO / "roles/backup/defaults/main.yml").read_text())[
    "backup_lock_file"]).parent
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def needs_root() -> None:
    if os.geteuid() != 0 or not Path("/run/lock").is_dir() or not shutil.which("setpriv"):
        pytest.skip("needs root, /run/lock and setpriv to act as another user")


def default_lock(config: Path) -> Path:
    """The same configuration without lock_file: the tool's own default applies."""
    data = json.loads(config.read_text())
    del data["lock_file"]
    config.write_text(json.dumps(data))
    return config


@pytest.fixture
def planted_old_lock():
    """Another user creates the old lock file and holds it, as anyone could in /run/lock."""
    needs_root()
    if OLD_LOCK.exists() or OLD_LOCK.is_symlink():
        pytest.skip(f"{OLD_LOCK} exists already on this machine")
    holder = subprocess.Popen([*NOBODY, "flock", str(OLD_LOCK), "sleep", "120"])
    try:
        deadline = time.monotonic() + 10
        while not OLD_LOCK.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert OLD_LOCK.stat().st_uid != 0
        yield OLD_LOCK
    finally:
        holder.kill()
        holder.wait()
        OLD_LOCK.unlink(missing_ok=True)


def test_another_users_lock_file_at_the_old_path_blocks_nothing(site, tmp_path,
                                                                 planted_old_lock):
    config = default_lock(site.config({"type": "local", "path": str(tmp_path / "store")}))
    made_here = not NEW_LOCK_DIR.exists()
    try:
        result = run_cli(config, "backup")
    finally:
        if made_here:
            shutil.rmtree(NEW_LOCK_DIR, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert len(listed(config)) == 1


@pytest.fixture
def shared_dir():
    """A directory like /run/lock: world-writable and sticky, reachable by everyone."""
    needs_root()
    shared = Path(tempfile.mkdtemp(prefix="herd-shared-lock-"))
    shared.chmod(0o1777)
    yield shared
    shutil.rmtree(shared)


def test_a_lock_in_a_directory_others_can_write_is_refused(site, tmp_path, shared_dir):
    shared = shared_dir
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    subprocess.run([*NOBODY, "ln", "-s", str(victim), str(shared / "herd-backup.lock")],
                   check=True)
    config = site.config({"type": "local", "path": str(tmp_path / "store")},
                         lock_file=str(shared / "herd-backup.lock"))

    result = run_cli(config, "backup")
    assert result.returncode == CONFIG, result.stderr
    assert "lock_file" in result.stderr and "Traceback" not in result.stderr
    assert victim.read_text() == "root's file\n"
    assert not (tmp_path / "store").exists()


def test_a_symlink_at_the_lock_path_is_not_followed(site, tmp_path):
    private = tmp_path / "private-lock-dir"
    private.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    (private / "herd-backup.lock").symlink_to(victim)
    config = site.config({"type": "local", "path": str(tmp_path / "store")},
                         lock_file=str(private / "herd-backup.lock"))

    result = run_cli(config, "backup")
    assert result.returncode == CONFIG, result.stderr
    assert "lock_file" in result.stderr and "symlink" in result.stderr
    assert not victim.exists()
    assert not (tmp_path / "store").exists()

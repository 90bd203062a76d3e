"""Helpers: a temporary Mastodon tree from the stand-in's repository, with real cache files.

The stand-in's bin/tootctl is a Ruby stub (Bundler, Ruby >= 3.3) that execs the
stand-in's Python tootctl; the test host (Debian 12, Ruby 3.1 at most) cannot boot it,
so the tests call that same entry point, `python3 lib/standin/cli.py tootctl`, through
a two-line wrapper. Flags, refusals, the JSON-lines log and the file deletions are the
stand-in's own.
"""

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
STANDIN = REPO / "molecule" / "shared" / "standin"
KiB = 1024
DAY = 86400
TOOTCTL_PATH = "/usr/bin:/bin"


def build_standin_repo(dest: Path) -> Path:
    if not (STANDIN / "build-repo.sh").is_file():
        pytest.fail(f"the Mastodon stand-in is missing: {STANDIN}/build-repo.sh")
    subprocess.run(["bash", str(STANDIN / "build-repo.sh"), str(dest)], check=True,
                   capture_output=True, text=True)
    return dest


def write_file(path: Path, size: int, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


@dataclass
class Instance:
    root: Path
    tootctl: Path
    nginx_cache: Path
    lock: Path

    @property
    def cache(self) -> Path:
        return self.root / "public" / "system" / "cache"

    def attachment(self, number: int, size: int, age_days: float) -> Path:
        """A cached remote attachment in upstream's layout."""
        digits = f"{number:09d}"
        return write_file(self.cache / "media_attachments" / "files" / digits[:3] / digits[3:6]
                          / digits[6:] / "original" / f"{number}.jpg", size, age_days)

    def nginx_entry(self, name: str, size: int, age_days: float) -> Path:
        return write_file(self.nginx_cache / name[-1] / name[-3:-1] / name, size, age_days)

    def tootctl_calls(self) -> list[dict]:
        log = self.root / "log" / "standin-tootctl.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def media_remove_days(self) -> list[int]:
        return [int(call["options"]["days"]) for call in self.tootctl_calls()
                if call["command"] == ["media", "remove"]]

    def cleanup(self, *args: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "herd.cli.cache_cleanup", "--json",
                "--root", str(self.root), "--tootctl", str(self.tootctl),
                "--tootctl-path", TOOTCTL_PATH, "--nginx-cache-dir", str(self.nginx_cache),
                "--lock", str(self.lock), "--lock-timeout", "0", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def report(result: subprocess.CompletedProcess) -> dict:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def make_instance(standin_repo: Path, tmp_path: Path) -> Instance:
    root = tmp_path / "live"
    subprocess.run(["git", "clone", "-q", str(standin_repo), str(root)], check=True)
    # What tootctl needs to boot: the settings and secrets upstream checks at start.
    env = {"LOCAL_DOMAIN": "social.example.test", "DB_HOST": "/var/run/postgresql",
           "DB_NAME": "mastodon_production", "DB_USER": "mastodon",
           "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379"}
    for key in ("SECRET_KEY_BASE", "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
                "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
                "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY", "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"):
        env[key] = secrets.token_hex(16)
    (root / ".env.production").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    wrapper = tmp_path / "bin" / "tootctl"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/python3 {root}/lib/standin/cli.py tootctl "$@"\n')
    wrapper.chmod(0o755)
    nginx = tmp_path / "nginx-cache"
    nginx.mkdir()
    return Instance(root=root, tootctl=wrapper, nginx_cache=nginx, lock=tmp_path / "lock")


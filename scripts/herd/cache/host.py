"""The real machine behind the planner: statvfs, the cache scanner, tootctl, rm."""

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from herd.cache import s3, scan
from herd.cache.config import CleanupConfig
from herd.cache.planner import Measurement
from herd.errors import CommandFailed, ConfigError
from herd.log import StepLog
from herd.process import run


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file (Mastodon's .env.production); comments skipped."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


class MachineHost:
    def __init__(self, config: CleanupConfig, log: StepLog,
                 statvfs: Callable[[str], os.statvfs_result] = os.statvfs,
                 now: Callable[[], float] = time.time):
        self.config, self.log = config, log
        self._statvfs, self._now = statvfs, now

    # -- measuring ------------------------------------------------------------------
    def measure(self) -> Measurement:
        # The disk that holds the local media cache (or the Mastodon tree).
        probe = self.config.media_cache if self.config.media_cache.exists() \
            else self.config.mastodon_root
        fs = self._statvfs(str(probe))
        used = (fs.f_blocks - fs.f_bfree) * fs.f_frsize
        size = used + fs.f_bavail * fs.f_frsize
        if self.config.s3 is not None:
            media = s3.usage(self.config.s3)
        else:
            media = scan.usage(str(self.config.media_cache)).bytes
        nginx_dir = self.config.nginx_cache_dir
        nginx = scan.usage(str(nginx_dir)).bytes if nginx_dir is not None else 0
        return Measurement(disk_used=used, disk_size=size, media_cache_bytes=media,
                           nginx_cache_bytes=nginx)

    def estimate_removal(self, subdir: str, days: int) -> int | None:
        if self.config.s3 is not None:
            return s3.bytes_older_than(self.config.s3, subdir, days,
                                       datetime.fromtimestamp(self._now(), UTC))
        tree = self.config.media_cache / subdir
        return scan.bytes_older_than(str(tree), days, self._now()).bytes

    # -- acting ---------------------------------------------------------------------
    def tootctl(self, args: list[str], *, dry_run: bool) -> str:
        config = self.config
        tootctl = Path(config.tootctl)
        if not tootctl.is_absolute():
            tootctl = config.mastodon_root / tootctl
        argv = [str(tootctl), *args, *(["--dry-run"] if dry_run else [])]
        env = {**os.environ, "RAILS_ENV": "production", "PATH": config.tootctl_path}
        if config.tootctl_user and os.geteuid() == 0:
            # runuser keeps our environment but for HOME/SHELL/USER; `env` restates ours.
            # Found on our own PATH: the child's PATH is the one for tootctl (ruby).
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            argv = [runuser, "-u", config.tootctl_user, "--", "/usr/bin/env",
                    "RAILS_ENV=production", f"PATH={config.tootctl_path}", *argv]
        # tootctl --dry-run is itself harmless, so dry runs do call it: its output is
        # the list of what would go.
        try:
            result = run(argv, self.log, env=env, cwd=str(config.mastodon_root))
        except OSError as error:  # not installed, not executable
            raise CommandFailed(argv, 127, str(error)) from error
        return result.stdout

    def nginx_files(self) -> list[scan.CacheFile]:
        assert self.config.nginx_cache_dir is not None  # noqa: S101 - planner checks
        return scan.files(str(self.config.nginx_cache_dir))

    def remove(self, path: str) -> None:
        nginx_dir = self.config.nginx_cache_dir
        # Defence in depth: the planner only passes regular files found under the nginx
        # cache; check the real directory (no "..", no symlinked parent) all the same.
        parent = Path(os.path.realpath(os.path.dirname(path)))  # noqa: PTH120
        if nginx_dir is None or not (parent == nginx_dir.resolve()
                                     or nginx_dir.resolve() in parent.parents):
            raise ConfigError(f"refusing to remove {path}: not inside the nginx cache dir")
        # A vanished file is fine: nginx's cache manager got there first.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # noqa: PTH108 - str paths from scandir, no Path objects made

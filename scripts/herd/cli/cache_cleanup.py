"""herd-cache-cleanup: keep the disk from filling with remote-media and proxy caches.

Above the high-water mark it prunes oldest first (preview cards when asked, then
`tootctl media remove --days D` for shrinking D down to the floor, then nginx's proxy
cache), re-measuring after each step, until below the low-water mark. Local users' own
uploads are never touched.

Exit codes: 0 done (or nothing to do), 2 bad settings (nothing changed), 3 tootctl
failed, 4 S3 listing failed, 7 another maintenance job holds the lock, 8 everything
allowed was pruned and the level is still above low-water (an operator must act).
"""

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

from herd.cache import config as settings
from herd.cache import lock
from herd.cache.host import MachineHost, read_env_file
from herd.cache.planner import CleanupReport, cleanup
from herd.cache.s3 import settings_from_env_file
from herd.cli._main import guarded
from herd.errors import ConfigError, HerdError
from herd.log import StepLog, human_bytes

COMMAND = "herd-cache-cleanup"
DEFAULT_LOCK = "/run/herd/maintenance.lock"
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)


class TargetNotReachedError(HerdError):
    """Everything allowed was pruned but the level is still above low-water."""

    exit_code = 8


def parse_size(text: str) -> int:
    """Bytes from `123`, `10G`, `10GiB` or `512M` (binary units)."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; write e.g. 50G or 53687091200")
    unit = (match.group(2) or "B").upper()[0]
    return int(match.group(1)) * 1024 ** "BKMGT".index(unit)


def parse_days(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write days as e.g. 30,14,7,3,1") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    defaults = settings.CleanupConfig()
    p.add_argument("--root", type=Path, default=defaults.mastodon_root,
                   help="Mastodon's directory (default %(default)s)")
    p.add_argument("--media-cache-dir", type=Path, default=None,
                   help="remote-media cache (default ROOT/public/system/cache)")
    p.add_argument("--nginx-cache-dir", type=Path, default=defaults.nginx_cache_dir,
                   help="nginx proxy cache, pruned last (default %(default)s)")
    p.add_argument("--no-nginx-cache", action="store_true", help="never touch nginx's cache")
    p.add_argument("--high-water", type=float, default=defaults.high_water,
                   help="percent that starts a cleanup (default %(default)s)")
    p.add_argument("--low-water", type=float, default=defaults.low_water,
                   help="percent where cleanup stops (default %(default)s)")
    p.add_argument("--cache-quota", type=parse_size, default=None,
                   help="act on cache size (media cache + nginx cache) against this quota "
                        "instead of on disk fill, e.g. 50G")
    p.add_argument("--days", type=parse_days, default=defaults.days_steps,
                   help="media remove --days steps, longest first (default 30,14,7,3,1)")
    p.add_argument("--floor-days", type=int, default=defaults.floor_days,
                   help="never prune media younger than this (default %(default)s)")
    p.add_argument("--preview-cards-days", type=int, default=None,
                   help="first run preview_cards remove --days N (N >= 14)")
    p.add_argument("--media-remove-option", action="append", default=[], metavar="OPTION",
                   help="extra tootctl media remove option, e.g. "
                        "--media-remove-option=--concurrency=2 (repeatable)")
    p.add_argument("--tootctl", default=defaults.tootctl,
                   help="tootctl, relative to ROOT or absolute (default %(default)s)")
    p.add_argument("--tootctl-user", default=None,
                   help="run tootctl as this user when started as root (e.g. mastodon)")
    p.add_argument("--tootctl-path", default=defaults.tootctl_path,
                   help="PATH for tootctl, where ruby and bundle are (default %(default)s)")
    p.add_argument("--env-file", type=Path, default=None,
                   help="Mastodon's env file, read for S3 settings "
                        "(default ROOT/.env.production when it exists)")
    p.add_argument("--lock", default=DEFAULT_LOCK,
                   help="lock shared with the maintenance timers (default %(default)s)")
    p.add_argument("--lock-timeout", type=float, default=3600,
                   help="seconds to wait for the lock (default %(default)s)")
    p.add_argument("--no-lock", action="store_true", help="do not take the lock")
    p.add_argument("--dry-run", action="store_true",
                   help="change nothing: run tootctl with --dry-run, list nginx cache files")
    p.add_argument("--json", action="store_true", default=None,
                   help="report as JSON (the default when stdout is not a terminal)")
    return p


def config_from(args: argparse.Namespace) -> settings.CleanupConfig:
    config = settings.CleanupConfig(
        mastodon_root=args.root, media_cache_dir=args.media_cache_dir,
        nginx_cache_dir=None if args.no_nginx_cache else args.nginx_cache_dir,
        high_water=args.high_water, low_water=args.low_water,
        cache_quota_bytes=args.cache_quota, days_steps=args.days,
        floor_days=args.floor_days, preview_cards_days=args.preview_cards_days,
        media_remove_options=tuple(args.media_remove_option), tootctl=args.tootctl,
        tootctl_user=args.tootctl_user, tootctl_path=args.tootctl_path,
        dry_run=args.dry_run)
    settings.validate(config)
    env_file = args.env_file or config.mastodon_root / ".env.production"
    if args.env_file is not None and not env_file.is_file():
        raise ConfigError(f"--env-file: {env_file} does not exist")
    if env_file.is_file():
        config = replace(config, s3=settings_from_env_file(read_env_file(env_file)))
    return config


def print_report(report: CleanupReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), sort_keys=True))
        return
    would = "would free" if report.dry_run else "freed"
    print(f"{report.mode} level {report.level_start}% -> {report.level_end}% "
          f"(high-water {report.high_water}%, low-water {report.low_water}%)")
    for step in report.steps:
        estimate = " (estimate)" if step.estimated else ""
        print(f"  {step.step:<36} {would} {human_bytes(step.cache_bytes_freed)}{estimate}, "
              f"level {step.level_before}% -> {step.level_after}%")
        if report.dry_run:
            for path in step.files:
                print(f"    would remove {path}")
    if not report.acted:
        print("  below high-water: nothing to do")


def run(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = config_from(args)
    log = StepLog(COMMAND)
    host = MachineHost(config, log)
    if args.no_lock or args.dry_run:
        report = cleanup(config, host, log)
    else:
        with lock.held(args.lock, args.lock_timeout):
            report = cleanup(config, host, log)
    print_report(report, as_json=args.json if args.json is not None else not sys.stdout.isatty())
    if report.acted and not report.low_water_reached and not config.dry_run:
        raise TargetNotReachedError(
            f"still at {report.level_end}% after every allowed step (low-water "
            f"{report.low_water}%): lower --floor-days, raise the quota, or free space")
    return 0


def main() -> int:
    return guarded(run)


if __name__ == "__main__":
    sys.exit(main())

"""herd-backup: streamed, encrypted backups of a Mastodon server that restore.

    herd-backup [--config FILE] backup [--dry-run] [--no-prune]
    herd-backup [--config FILE] list [--json]
    herd-backup [--config FILE] restore [--backup ID] [--parts database,files,uploads,redis]
                                        [--database NAME] [--force-nonempty] [--dry-run]
    herd-backup [--config FILE] verify [--backup ID]
    herd-backup [--config FILE] prune [--dry-run]
    herd-backup [--config FILE] check [--offline]

Exit codes: 0 ok, 2 bad configuration or input (nothing changed), 3 a command such as
pg_dump failed, 4 the backup target or local disk failed, 5 integrity (checksum, wrong
key, corrupted part), 6 interrupted by a signal, 7 another run holds the lock.
"""

import argparse
import contextlib
import json
import signal
import sys
from pathlib import Path
from types import FrameType

from herd.backup import config as backup_config
from herd.backup import operations
from herd.backup.targets import open_store
from herd.cli._main import guarded
from herd.errors import HerdError, Interrupted
from herd.log import StepLog, human_bytes

DEFAULT_CONFIG = "/etc/herd/backup.yml"
PART_GROUPS = ("database", "files", "uploads", "redis")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="herd-backup", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--config", default=DEFAULT_CONFIG,
                      help=f"configuration file, YAML or JSON (default {DEFAULT_CONFIG})")
    commands = main.add_subparsers(dest="command", required=True)
    backup = commands.add_parser("backup", help="make a backup (then prune, if configured)")
    backup.add_argument("--dry-run", action="store_true",
                        help="check the configuration and the database, list what would be "
                             "backed up; write nothing")
    backup.add_argument("--no-prune", action="store_true", help="skip retention afterwards")
    listing = commands.add_parser("list", help="complete backups, oldest first")
    listing.add_argument("--json", action="store_true", help="manifests as a JSON list")
    restore = commands.add_parser("restore", help="restore a backup (latest by default)")
    restore.add_argument("--backup", default=None, help="backup id (default: the latest)")
    restore.add_argument("--parts", default=",".join(operations.DEFAULT_RESTORE_PARTS),
                         help=f"comma-separated subset of {','.join(PART_GROUPS)} "
                              "(default %(default)s)")
    restore.add_argument("--database", default=None,
                         help="target database name (default: database.name)")
    restore.add_argument("--force-nonempty", action="store_true",
                         help="restore into a database that already has objects, replacing "
                              "those in the backup (pg_restore --clean)")
    restore.add_argument("--dry-run", action="store_true",
                         help="choose the backup and check the target; change nothing")
    verify = commands.add_parser("verify", help="restore into a scratch database, check, drop")
    verify.add_argument("--backup", default=None, help="backup id (default: the latest)")
    prune = commands.add_parser("prune", help="apply retention")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    check = commands.add_parser(
        "check", help="validate the configuration and the key, then list the target (proves "
                      "endpoint, credentials and bucket); write nothing")
    check.add_argument("--offline", action="store_true",
                       help="validate the configuration and the key only; contact nothing")
    failed = commands.add_parser(
        "mark-failed", help="record a failure in the status file (systemd OnFailure=)")
    failed.add_argument("--unit", default="herd-backup.service", help="the unit that failed")
    return main


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Ignore repeats so the clean-up that follows is not itself interrupted.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    operations.STOP.set()
    raise Interrupted(f"stopped by signal {signum}; partial work discarded")


def _parts(value: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [part for part in parts if part not in PART_GROUPS]
    if unknown or not parts:
        raise backup_config.ConfigError(
            f"--parts: unknown part {unknown[0] if unknown else '(empty)'!r}; "
            f"choose from {', '.join(PART_GROUPS)}")
    return parts


def run(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    log = StepLog(f"herd-backup {args.command}")
    config = backup_config.load(args.config)
    if args.command == "check":
        log.step("configuration ok", config=args.config, target=config.target.type)
        if not args.offline:
            store = open_store(config.target)
            try:
                found = len(store.backup_ids())
            finally:
                store.close()
            log.step("target ok", target=store.description, backups=found)
        return 0
    if args.command == "mark-failed":
        _mark_failed(config, args.unit)
        return 0
    if args.command == "list":
        store = open_store(config.target)
        try:
            manifests = operations.complete_backups(store, log)
        finally:
            store.close()
        if args.json:
            sys.stdout.write(json.dumps([json.loads(m.to_json()) for m in manifests],
                                        indent=2) + "\n")
        else:
            operations.human_list(manifests, sys.stdout, human_bytes)
        return 0
    if args.command == "backup":
        return _backup(config, log, args.dry_run, not args.no_prune)
    with operations.lock(config.lock_file):
        if args.command == "restore":
            operations.Restore(config, log, backup_id=args.backup, parts=_parts(args.parts),
                               database=args.database, force_nonempty=args.force_nonempty,
                               dry_run=args.dry_run).run()
        elif args.command == "verify":
            operations.verify(config, log, args.backup)
        else:
            operations.prune(config, log, dry_run=args.dry_run)
    return 0


def _backup(config: backup_config.Config, log: StepLog, dry_run: bool, prune: bool) -> int:
    started = operations.now().isoformat()
    job = operations.Backup(config, log, dry_run=dry_run)
    try:
        with operations.lock(config.lock_file):
            backup_id = job.run()
            if dry_run:
                return 0
            status = {"result": "success", "exit_code": 0, "backup_id": backup_id,
                      "started_at": started, "finished_at": operations.now().isoformat()}
            operations.write_status(config.status_file, status)
            if job.finished:
                operations.write_metrics(config.metrics_file, job.finished, log)
            # Retention only ever follows a complete backup.
            if prune and config.retention.after_backup:
                operations.prune(config, log)
    except HerdError as error:
        if not dry_run and not isinstance(error, backup_config.ConfigError | _lock_held()):
            operations.write_status(config.status_file, {
                "result": "failure", "exit_code": error.exit_code, "error": str(error),
                "kind": type(error).__name__, "backup_id": job.backup_id, "started_at": started,
                "finished_at": operations.now().isoformat()})
        raise
    return 0


def _mark_failed(config: backup_config.Config, unit: str) -> None:
    """Make sure the status file says failure, also when herd could not write it itself
    (killed, out of memory): keeps what herd recorded, adds the unit's verdict."""
    status: dict[str, object] = {}
    if config.status_file:
        with contextlib.suppress(OSError, ValueError):
            status = json.loads(Path(config.status_file).read_text())
    if status.get("result") != "failure":
        status.update({"result": "failure", "exit_code": None, "kind": "UnitFailed",
                       "error": f"{unit} failed without herd recording why (killed?)"})
    status.update({"unit_failed": unit, "unit_failed_at": operations.now().isoformat()})
    operations.write_status(config.status_file, status)


def _lock_held() -> type[HerdError]:
    from herd.errors import LockHeld

    return LockHeld


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    return guarded(lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark herd-backup against plain `pg_dump -Fc > /dev/null` on the same machine.

Not a test: it measures. Generates a database of at least --size-gib (default 1) in a
throwaway PostgreSQL cluster, then reports:

- wall time of `pg_dump -Fc > /dev/null` (the floor) and of `herd-backup backup`
  (target: <= 1.3x), to a local-directory target or moto_server (--target s3; moto
  keeps objects in its own memory: that is the server's RSS, not herd's);
- peak RSS of the herd-backup process and of its whole process tree (pg_dump
  included), sampled from /proc (target: herd <= 150 MB);
- restore wall time with `pg_restore -j N` (parallel) into a new database.

    sudo .venv/bin/python scripts/bench_backup.py [--size-gib 1] [--target local|s3] [--jobs 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.integration.conftest: the one way to start servers

from tests.integration.conftest import running_postgres, running_s3  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
TARGET_RATIO, TARGET_RSS_MB = 1.3, 150


def tree_rss(root: int) -> tuple[int, int]:
    """(RSS of root, RSS of root and all its descendants), in bytes, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            statm = Path(f"/proc/{entry.name}/statm").read_text()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(statm.split()[1]) * PAGE
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return rss.get(root, 0), total


def measured(argv: list[str], env: dict[str, str], stdout=subprocess.DEVNULL) -> dict:  # noqa: ANN001
    """Run argv; wall time and peak RSS (own and tree), sampled every 20 ms."""
    peak = {"own": 0, "tree": 0}
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE)  # noqa: S603
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            own, tree = tree_rss(process.pid)
            peak["own"], peak["tree"] = max(peak["own"], own), max(peak["tree"], tree)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({process.returncode}): {stderr.decode()[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak["own"] / 2**20, 1),
            "peak_tree_rss_mb": round(peak["tree"] / 2**20, 1)}


def generate(pg, size_gib: float) -> int:  # noqa: ANN001
    """Fill `bench` with ~60% incompressible bytea and ~40% text; returns its size."""
    pg.psql("CREATE DATABASE bench")
    pg.psql("CREATE EXTENSION IF NOT EXISTS pgcrypto", "bench")
    pg.psql("CREATE TABLE media (id bigint PRIMARY KEY, data bytea)", "bench")
    pg.psql("CREATE TABLE statuses (id bigint PRIMARY KEY, account_id int, text text, "
            "created_at timestamptz DEFAULT now())", "bench")
    pg.psql("CREATE INDEX ON statuses (account_id)", "bench")
    target = int(size_gib * 2**30)
    batch = 0
    while (size := int(pg.psql("SELECT pg_database_size('bench')", "bench"))) < target:
        base = batch * 100_000
        pg.psql(f"INSERT INTO media SELECT g, gen_random_bytes(1024) || gen_random_bytes(1024) "  # noqa: S608, E501
                f"FROM generate_series({base + 1}, {base + 100_000}) g", "bench")
        pg.psql(f"INSERT INTO statuses (id, account_id, text) SELECT g, g % 5000, "  # noqa: S608
                f"repeat(md5(g::text || random()::text), 16) "
                f"FROM generate_series({base + 1}, {base + 100_000}) g", "bench")
        batch += 1
    pg.psql("VACUUM ANALYZE", "bench")
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--target", choices=("local", "s3"), default="local")
    parser.add_argument("--jobs", type=int, default=2, help="pg_restore -j for the restore")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO / "scripts")}
    results: dict[str, object] = {"target": args.target}
    with tempfile.TemporaryDirectory(prefix="herd-bench-", dir="/var/tmp") as work, \
            running_postgres() as pg:
        work_dir = Path(work)
        started = time.monotonic()
        results["database_bytes"] = generate(pg, args.size_gib)
        results["generate_seconds"] = round(time.monotonic() - started, 1)
        key = work_dir / "key"
        key.write_text(base64.b64encode(os.urandom(32)).decode())
        pg_env = {**env, **pg.env}

        results["pg_dump_devnull"] = measured(
            [str(pg.bin / "pg_dump"), "-Fc", "-d", "bench"], pg_env)

        def config(target: dict) -> Path:
            path = work_dir / "backup.json"
            path.write_text(json.dumps({
                "target": target, "key_file": str(key),
                "database": {"name": "bench", "owner": "postgres", "host": pg.socket_dir,
                             "port": pg.port, "user": "postgres",
                             "verify_tables": ["statuses"]},
                "mastodon": {"root": str(work_dir), "env_file": "", "uploads_dir": ""},
                "restore": {"work_dir": str(work_dir), "jobs": args.jobs},
                "lock_file": str(work_dir / "lock"), "status_file": str(work_dir / "status"),
            }))
            return path

        herd = [sys.executable, "-m", "herd.cli.backup", "--config"]

        def run_backup(target: dict) -> None:
            path = config(target)
            results["herd_backup"] = measured([*herd, str(path), "backup", "--no-prune"],
                                              pg_env)
            # The restore: parallel pg_restore into a new database.
            results["herd_restore"] = measured(
                [*herd, str(path), "restore", "--parts", "database", "--database",
                 "bench_restored"], pg_env)

        if args.target == "s3":
            with running_s3() as s3:
                s3.client().create_bucket(Bucket="bench")
                run_backup({"type": "s3", "bucket": "bench", "endpoint_url": s3.endpoint_url,
                            "region": s3.region, "access_key_id": s3.access_key_id,
                            "secret_access_key": s3.secret_access_key, "path_style": True})
        else:
            run_backup({"type": "local", "path": str(work_dir / "store")})
        stored = json.loads((work_dir / "status").read_text())
        results["backup_id"] = stored["backup_id"]
        results["restored_rows_statuses"] = pg.psql("SELECT count(*) FROM statuses",
                                                    "bench_restored")

    ratio = results["herd_backup"]["seconds"] / results["pg_dump_devnull"]["seconds"]  # type: ignore[index]
    results["ratio_vs_pg_dump"] = round(ratio, 2)
    rss = results["herd_backup"]["peak_rss_mb"]  # type: ignore[index]
    results["verdict"] = {f"time <= {TARGET_RATIO}x": ratio <= TARGET_RATIO,
                          f"rss <= {TARGET_RSS_MB} MB": rss <= TARGET_RSS_MB}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark (not a test): herd's cache scanner against `find DIR -printf '%s %T@\\n'`.

Target: scanning a 1-million-file remote-media cache takes at most 1.5x what find takes
on the same tree in the same run. The tree mirrors upstream's layout
(cache/media_attachments/files/000/000/001/{original,small}/NAME) in a temporary
directory that is removed afterwards. Each scanner runs twice and the second run counts,
so both see the same (warm) dentry/inode cache.

    python3 scripts/bench_cache_scan.py [--files 1000000] [--target 1.5] [--dir /var/tmp]

Exit status 0 when the target is met, 1 when not.
"""

# ruff: noqa: PTH102, PTH103, PTH118, PTH120
# Plain os calls on str paths on purpose: the generator makes ~2.5 million
# inodes, and Path objects would cost more than the syscalls being measured.

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from herd.cache import scan  # noqa: E402 - after the path set-up above

STYLES = ("original", "small")


def _attachment_dir(base: str, attachment_id: int) -> str:
    digits = f"{attachment_id:09d}"
    return os.path.join(base, digits[0:3], digits[3:6], digits[6:9])


def _build_slice(base: str, first: int, last: int) -> None:
    """Create attachments first..last-1: one directory per id, one file per style.
    Files are sparse (ftruncate): real sizes for the scanners, no disk used."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    made: set[str] = set()
    for attachment_id in range(first, last):
        directory = _attachment_dir(base, attachment_id)
        parent = os.path.dirname(directory)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        os.mkdir(directory)
        for style in STYLES:
            style_dir = os.path.join(directory, style)
            os.mkdir(style_dir)
            fd = os.open(os.path.join(style_dir, f"{attachment_id:x}.jpg"), flags, 0o644)
            os.ftruncate(fd, 1024 + (attachment_id * 7919) % 200_000)
            os.close(fd)


def build_tree(root: str, file_count: int) -> str:
    base = os.path.join(root, "public", "system", "cache", "media_attachments", "files")
    attachments = file_count // len(STYLES)
    # Split on 1000-id boundaries so no two workers create the same parent directory.
    workers = max(1, os.cpu_count() or 1)
    chunk = -(-attachments // workers // 1000) * 1000
    bounds = [(start, min(start + chunk, attachments + 1))
              for start in range(1, attachments + 1, chunk)]
    with multiprocessing.Pool(workers) as pool:
        pool.starmap(_build_slice, [(base, first, last) for first, last in bounds])
    return os.path.join(root, "public", "system", "cache")


def time_find(tree: str) -> float:
    started = time.perf_counter()
    subprocess.run(["find", tree, "-printf", r"%s %T@\n"],  # noqa: S603,S607 - fixed argv
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def time_scan(tree: str) -> tuple[float, scan.TreeUsage]:
    started = time.perf_counter()
    result = scan.usage(tree)
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--target", type=float, default=1.5)
    parser.add_argument("--dir", default=None, help="where to build the temporary tree")
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="herd-bench-cache-", dir=args.dir)
    try:
        started = time.perf_counter()
        tree = build_tree(root, args.files)
        print(f"built {args.files} files in {time.perf_counter() - started:.1f} s under {root}")
        find_times = [time_find(tree) for _ in range(2)]
        scans = [time_scan(tree) for _ in range(2)]
        find_seconds, (scan_seconds, result) = find_times[1], scans[1]
        if result.files != args.files // len(STYLES) * len(STYLES):
            print(f"scanner counted {result.files} files, expected {args.files}")
            return 1
        ratio = scan_seconds / find_seconds
        print(f"find -printf: {find_times[0]:.2f} s, {find_seconds:.2f} s (second run counts)")
        print(f"herd scan:    {scans[0][0]:.2f} s, {scan_seconds:.2f} s (second run counts); "
              f"{result.files} files, {result.bytes} bytes")
        verdict = "OK" if ratio <= args.target else "TOO SLOW"
        print(f"ratio scan/find = {ratio:.2f} (target <= {args.target}) {verdict}")
        return 0 if ratio <= args.target else 1
    finally:
        started = time.perf_counter()
        shutil.rmtree(root)
        print(f"removed the tree in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())

"""The scanner on a real temporary tree: sizes, ages, symlinks not followed."""

import os
import time

from herd.cache import scan


def write(path, size, age_days=0.0, now=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = (now or time.time()) - age_days * 86400
    os.utime(path, (stamp, stamp))


def test_usage_counts_regular_files_below_the_root(tmp_path):
    write(tmp_path / "a/b/c/one.jpg", 100)
    write(tmp_path / "two.jpg", 23)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    write(outside / "big.bin", 10_000)
    (tmp_path / "link").symlink_to(outside, target_is_directory=True)
    assert scan.usage(str(tmp_path)) == scan.TreeUsage(files=2, bytes=123)


def test_usage_of_a_missing_tree_is_zero(tmp_path):
    assert scan.usage(str(tmp_path / "absent")) == scan.TreeUsage(0, 0)


def test_bytes_older_than_uses_mtime(tmp_path):
    now = time.time()
    write(tmp_path / "old.jpg", 10, age_days=20, now=now)
    write(tmp_path / "mid.jpg", 20, age_days=10, now=now)
    write(tmp_path / "new.jpg", 40, age_days=1, now=now)
    assert scan.bytes_older_than(str(tmp_path), 14, now).bytes == 10
    assert scan.bytes_older_than(str(tmp_path), 7, now).bytes == 30


def test_files_reports_size_and_mtime(tmp_path):
    write(tmp_path / "x/y.bin", 5, age_days=2)
    [found] = scan.files(str(tmp_path))
    assert found.path == str(tmp_path / "x/y.bin") and found.size == 5
    assert time.time() - found.mtime > 86400

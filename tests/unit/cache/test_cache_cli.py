"""Small pieces of the command: sizes, and the last guard before a file is removed."""

import argparse
import io
from pathlib import Path

import pytest
from herd.cache.config import CleanupConfig
from herd.cache.host import MachineHost, read_env_file
from herd.cli.cache_cleanup import parse_days, parse_size
from herd.errors import ConfigError
from herd.log import StepLog


@pytest.mark.parametrize(("text", "expected"), [
    ("123", 123), ("10K", 10 * 1024), ("512M", 512 * 1024**2), ("50G", 50 * 1024**3),
    ("2GiB", 2 * 1024**3), ("1T", 1024**4),
])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "ten", "5 parsecs", "-3G"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)


def test_days_list():
    assert parse_days("30,14, 7") == (30, 14, 7)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_days("30,a week")


def test_remove_refuses_anything_outside_the_nginx_cache(tmp_path):
    nginx = tmp_path / "nginx"
    nginx.mkdir()
    precious = tmp_path / "live" / "public" / "system" / "media_attachments" / "own.jpg"
    precious.parent.mkdir(parents=True)
    precious.write_bytes(b"mine")
    host = MachineHost(CleanupConfig(mastodon_root=tmp_path / "live", nginx_cache_dir=nginx),
                       StepLog("t", stream=io.StringIO(), structured=True))
    with pytest.raises(ConfigError, match="not inside the nginx cache"):
        host.remove(str(precious))
    with pytest.raises(ConfigError):
        host.remove(str(nginx / ".." / "live" / "public" / "system" / "media_attachments"
                        / "own.jpg"))
    assert precious.exists()


def test_env_file_parsing(tmp_path: Path):
    env = tmp_path / ".env.production"
    env.write_text("# comment\nS3_ENABLED=true\nS3_BUCKET='media'\nexport S3_REGION=\"eu\"\n\n")
    assert read_env_file(env) == {"S3_ENABLED": "true", "S3_BUCKET": "media", "S3_REGION": "eu"}

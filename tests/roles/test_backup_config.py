"""The configuration the backup role writes is read by herd-backup as the inventory
meant it (herd.backup.config.parse, the code the host runs)."""

import base64
import os

import yaml
from herd.backup import config
from render import render

KEY = base64.b64encode(os.urandom(32)).decode()


def test_redis_snapshot_settings_reach_herd_backup(tmp_path):
    (tmp_path / "backup.key").write_text(KEY + "\n")
    password = "redis pass #$'\"✓"
    (tmp_path / "backup_redis_password").write_text(password + "\n")  # what configure.yml writes
    text = render(tmp_path, "backup", "etc/herd/backup.yml.j2", {
        "backup_config_dir": str(tmp_path), "backup_s3_bucket": "b",
        "backup_redis_dump_file": "/var/lib/redis/dump.rdb", "backup_redis_port": 6380,
        "redis_password": password, "backup_redis_save_timeout": 120})
    parsed = config.parse(yaml.safe_load(text))
    assert parsed.redis_dump == "/var/lib/redis/dump.rdb"
    assert (parsed.redis.host, parsed.redis.port, parsed.redis.user) == ("127.0.0.1", 6380, None)
    assert (parsed.redis.password, parsed.redis.save_timeout) == (password, 120)

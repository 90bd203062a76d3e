"""Bad input is refused before any change, with a message naming the key and the fix."""

import base64
import json
import os

import pytest
from herd.backup import config
from herd.errors import ConfigError


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "backup.key"
    path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    return str(path)


@pytest.fixture
def ssh_key(tmp_path):
    path = tmp_path / "id_ed25519"
    path.write_text("not parsed before connecting\n")
    return str(path)


def good(key_file, **changes):
    data = {"target": {"type": "s3", "bucket": "backups"}, "key_file": key_file}
    data.update(changes)
    return data


def refused(data) -> str:
    with pytest.raises(ConfigError) as caught:
        config.parse(data)
    return str(caught.value)


def test_a_minimal_s3_config_is_accepted_with_defaults(key_file):
    parsed = config.parse(good(key_file))
    assert isinstance(parsed.target, config.S3Target)
    assert parsed.target.part_size == 16 * 1024 * 1024
    assert parsed.uploads_dir == "/home/mastodon/live/public/system"
    assert parsed.uploads_exclude == ("cache",)
    assert [f.path for f in parsed.files] == ["/home/mastodon/live/.env.production"]
    assert len(parsed.key) == 32


def test_unknown_target_type(key_file):
    message = refused(good(key_file, target={"type": "ftp"}))
    assert "target.type" in message and "s3, sftp, local" in message


def test_s3_target_without_bucket(key_file):
    message = refused(good(key_file, target={"type": "s3", "endpoint_url": "http://x"}))
    assert message.startswith("target.bucket: required")
    assert "bucket" in message.split(";")[1]


def test_sftp_target_without_host_key(key_file, ssh_key):
    message = refused(good(key_file, target={"type": "sftp", "host": "backup.example",
                                             "key_file": ssh_key}))
    assert message.startswith("target.known_hosts_line: required")
    assert "ssh-keyscan" in message


def test_sftp_host_key_must_look_like_a_known_hosts_line(key_file, ssh_key):
    message = refused(good(key_file, target={"type": "sftp", "host": "h", "key_file": ssh_key,
                                             "known_hosts_line": "AAAAC3Nza"}))
    assert "target.known_hosts_line" in message and "KEYTYPE" in message


def test_sftp_missing_login_key(key_file, tmp_path):
    message = refused(good(key_file, target={
        "type": "sftp", "host": "h", "key_file": str(tmp_path / "absent"),
        "known_hosts_line": "h ssh-ed25519 AAAA"}))
    assert message.startswith("target.key_file:") and "missing or unreadable" in message


@pytest.mark.parametrize("field", ["keep_daily", "keep_weekly", "keep_monthly"])
@pytest.mark.parametrize("value", [0, -1])
def test_retention_counts_below_one(key_file, field, value):
    message = refused(good(key_file, retention={field: value}))
    assert message == f"retention.{field}: must be at least 1, got {value}"


def test_retention_count_must_be_an_integer(key_file):
    assert "retention.keep_daily: must be an integer" in refused(
        good(key_file, retention={"keep_daily": "7"}))


def test_missing_key_file(tmp_path):
    message = refused(good(str(tmp_path / "nope.key")))
    assert message.startswith("key_file: cannot read")
    assert "head -c 32 /dev/urandom | base64" in message


def test_unreadable_key_file(key_file):
    os.chmod(key_file, 0)  # noqa: PTH101
    if os.access(key_file, os.R_OK):
        pytest.skip("root reads any file; the missing-file case covers this path")
    assert refused(good(key_file)).startswith("key_file: cannot read")


def test_key_file_of_the_wrong_size(tmp_path):
    path = tmp_path / "short.key"
    path.write_text(base64.b64encode(b"x" * 16).decode())
    assert "decodes to 16 bytes, expected 32" in refused(good(str(path)))


def test_key_file_that_is_not_base64(tmp_path):
    path = tmp_path / "raw.key"
    path.write_text("this is not base64!")
    assert "not valid base64" in refused(good(str(path)))


def test_key_file_required():
    assert refused({"target": {"type": "s3", "bucket": "b"}}).startswith("key_file: required")


def test_typo_in_a_key_is_named(key_file):
    message = refused(good(key_file, retention={"keep_dialy": 3}))
    assert message.startswith("retention.keep_dialy: unknown key")


def test_part_size_has_bounds(key_file):
    assert "at least 5" in refused(good(key_file, target={"type": "s3", "bucket": "b",
                                                           "part_size_mib": 1}))


def test_load_reads_json_and_yaml(tmp_path, key_file):
    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps(good(key_file)))
    as_yaml = tmp_path / "c.yml"
    as_yaml.write_text(f"target:\n  type: local\n  path: /srv/b\nkey_file: {key_file}\n")
    assert config.load(str(as_json)).target.type == "s3"
    assert config.load(str(as_yaml)).target == config.LocalTarget(path="/srv/b")


def test_load_refuses_a_broken_file(tmp_path):
    broken = tmp_path / "c.yml"
    broken.write_text("target: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(str(broken))
    with pytest.raises(ConfigError, match="--config: cannot read"):
        config.load(str(tmp_path / "absent.yml"))


@pytest.mark.parametrize("endpoint", ["https://s3.fr-par.scw.cloud", "http://127.0.0.1:9000",
                                      "http://[::1]:3900", "https://minio.example.net/"])
@pytest.mark.parametrize("region", ["us-east-1", "garage", "fr-par", "eu-central-003"])
def test_real_world_endpoints_and_regions_are_accepted(key_file, endpoint, region):
    parsed = config.parse(good(key_file, target={"type": "s3", "bucket": "b",
                                                 "endpoint_url": endpoint, "region": region}))
    assert (parsed.target.endpoint_url, parsed.target.region) == (endpoint, region)


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_known_hosts_lines_from_ssh_keygen_are_accepted(key_file, ssh_key, tmp_path, kind):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(tmp_path / kind)],
                   check=True)
    line = "[backup.example]:2222 " + " ".join(
        (tmp_path / f"{kind}.pub").read_text().split()[:2])
    parsed = config.parse(good(key_file, target={"type": "sftp", "host": "backup.example",
                                                 "key_file": ssh_key,
                                                 "known_hosts_line": line}))
    assert parsed.target.known_hosts_line == line

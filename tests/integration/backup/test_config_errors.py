"""Every configuration error exits 2 naming the setting, without a traceback, before
anything is written; `check` talks to the target and fails on one it cannot use."""

import base64
import socket
import subprocess

import pytest
from support import run_cli

pytestmark = pytest.mark.integration

CONFIG, STORAGE = 2, 4


def ssh_blob(kind: str) -> str:
    """A public key blob in SSH's wire format: string type name, then key data."""
    name = kind.encode()
    return base64.b64encode(len(name).to_bytes(4, "big") + name + b"\0" * 36).decode()


S3_CASES = {
    "endpoint without ://": ("endpoint_url", "http//127.0.0.1:9000"),
    "endpoint without scheme": ("endpoint_url", "127.0.0.1:9000"),
    "endpoint port out of range": ("endpoint_url", "http://127.0.0.1:99999"),
    "endpoint of another protocol": ("endpoint_url", "ftp://127.0.0.1"),
    "endpoint with a space": ("endpoint_url", "http://exa mple.test"),
    "region with spaces": ("region", "us east 1"),
    "region with a slash": ("region", "eu-west-1/"),
}


@pytest.mark.parametrize("case", S3_CASES)
@pytest.mark.parametrize("command", [("check",), ("backup",), ("list",)])
def test_bad_s3_setting_exits_2_naming_it(site, s3_target, case, command):
    key, value = S3_CASES[case]
    config = site.config({**s3_target, key: value})
    result = run_cli(config, *command)
    assert result.returncode == CONFIG, result.stderr
    assert f"target.{key}" in result.stderr and "Traceback" not in result.stderr
    assert not (site.tmp / "backup.status").exists()


KNOWN_HOSTS_CASES = {
    "not base64": "AAAA!!!",
    "base64 but no key": "QUJD",
    "key of another type than named": ssh_blob("ssh-rsa"),
}


@pytest.mark.parametrize("case", KNOWN_HOSTS_CASES)
@pytest.mark.parametrize("command", ["check", "backup"])
def test_bad_known_hosts_line_exits_2_naming_it(site, sftp_target, sftp_server, case,
                                                command):
    line = f"[127.0.0.1]:{sftp_server.port} ssh-ed25519 {KNOWN_HOSTS_CASES[case]}"
    config = site.config({**sftp_target, "known_hosts_line": line})
    result = run_cli(config, command)
    assert result.returncode == CONFIG, result.stderr
    assert "target.known_hosts_line" in result.stderr and "Traceback" not in result.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_check_talks_to_the_target(site, s3_target, sftp_target, sftp_server, tmp_path):
    assert run_cli(site.config(s3_target), "check").returncode == 0
    assert run_cli(site.config(sftp_target), "check").returncode == 0

    nobody_there = run_cli(site.config(
        {**s3_target, "endpoint_url": f"http://127.0.0.1:{closed_port()}"}), "check")
    assert nobody_there.returncode == STORAGE, nobody_there.stderr
    assert "S3" in nobody_there.stderr and "Traceback" not in nobody_there.stderr

    no_bucket = run_cli(site.config({**s3_target, "bucket": "herd-no-such-bucket"}), "check")
    assert no_bucket.returncode == STORAGE, no_bucket.stderr
    assert "NoSuchBucket" in no_bucket.stderr

    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True)
    kind, blob = (tmp_path / "other_key.pub").read_text().split()[:2]
    wrong_host_key = run_cli(site.config(
        {**sftp_target, "known_hosts_line": f"[127.0.0.1]:{sftp_server.port} {kind} {blob}"}),
        "check")
    assert wrong_host_key.returncode == STORAGE, wrong_host_key.stderr
    assert "host key mismatch" in wrong_host_key.stderr


def test_check_offline_reads_only_the_configuration(site, s3_target):
    config = site.config({**s3_target, "endpoint_url": f"http://127.0.0.1:{closed_port()}"})
    result = run_cli(config, "check", "--offline")
    assert result.returncode == 0, result.stderr

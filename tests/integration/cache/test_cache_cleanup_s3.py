"""The remote-media cache on S3 (moto_server on loopback): measured with list_objects_v2,
only under the cache/ prefix, so users' own uploads never count towards the quota."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from cache_standin import Instance, KiB, report

pytestmark = pytest.mark.integration
MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    if not MOTO_SERVER.exists():
        pytest.fail(f"{MOTO_SERVER} is missing: install moto[server] in the toolchain venv")
    port = free_port()
    server = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("moto_server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_s3_cache_prefix_is_what_counts(instance: Instance, s3_endpoint: str):
    bucket = "herd-cache-test"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test-secret")
    s3.create_bucket(Bucket=bucket)
    for number in range(19):  # 950 KiB of cached remote media
        s3.put_object(Bucket=bucket, Key=f"cache/media_attachments/files/{number}/o.jpg",
                      Body=b"\0" * 50 * KiB)
    s3.put_object(Bucket=bucket, Key="media_attachments/files/1/own.jpg", Body=b"\0" * 5000 * KiB)
    env = instance.root / ".env.production"
    env.write_text(env.read_text() + f"S3_ENABLED=true\nS3_BUCKET={bucket}\n"
                   f"S3_ENDPOINT={s3_endpoint}\nS3_REGION=us-east-1\n"
                   "AWS_ACCESS_KEY_ID=test\nAWS_SECRET_ACCESS_KEY=test-secret\n")
    result = instance.cleanup("--cache-quota", str(1000 * KiB), "--dry-run")
    assert result.returncode == 0, result.stderr
    summary = report(result)
    assert summary["level_start"] == pytest.approx(95.0) and summary["acted"]
    listed = s3.list_objects_v2(Bucket=bucket)["KeyCount"]
    assert listed == 20  # a dry run removed nothing

"""Start or stop the scenario's S3 server (moto) and create its buckets.

    s3.py start ENDPOINT PIDFILE BUCKET...   (prints "started" or "running")
    s3.py stop PIDFILE
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import boto3


def running(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def wait_for(host: str, port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"moto_server did not answer on {host}:{port}")


def start(endpoint: str, pidfile: Path, buckets: list[str]) -> None:
    url = urlsplit(endpoint)
    if running(pidfile):
        print("running")
    else:
        moto = Path(sys.executable).with_name("moto_server")
        log = pidfile.with_suffix(".log").open("ab")
        process = subprocess.Popen([str(moto), "-H", url.hostname, "-p", str(url.port)],
                                   stdout=log, stderr=log, start_new_session=True)
        pidfile.write_text(str(process.pid))
        print("started")
    wait_for(url.hostname, url.port)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    for bucket in buckets:
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)


def stop(pidfile: Path) -> None:
    if running(pidfile):
        os.killpg(int(pidfile.read_text()), signal.SIGTERM)
    pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    if sys.argv[1] == "start":
        start(sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
    else:
        stop(Path(sys.argv[2]))

"""Start or stop the scenario's S3 server (moto) and create its buckets.

    s3.py start ENDPOINT PIDFILE BUCKET...   (prints "started" or "running")
    s3.py stop PIDFILE PORT
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


def running(pidfile: Path, port: int) -> bool:
    """The pidfile names a live moto_server on PORT. A pidfile left by a killed run may
    name a pid the system gave to another process since: that one is not the server."""
    try:
        argv = Path(f"/proc/{int(pidfile.read_text())}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
    return any(Path(arg.decode(errors="replace")).name == "moto_server" for arg in argv) \
        and str(port).encode() in argv


def wait_for(host: str, port: int) -> None:
    # Up to 2 minutes: the suite starts every scenario at once on a 2-core machine.
    for _ in range(600):
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"moto_server did not answer on {host}:{port}")


def start(endpoint: str, pidfile: Path, buckets: list[str]) -> None:
    url = urlsplit(endpoint)
    if running(pidfile, url.port):
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


def stop(pidfile: Path, port: int) -> None:
    if running(pidfile, port):
        os.killpg(int(pidfile.read_text()), signal.SIGTERM)
    pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    if sys.argv[1] == "start":
        start(sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
    else:
        stop(Path(sys.argv[2]), int(sys.argv[3]))

"""The production scenario's S3 server helper (molecule/production/files/s3.py) must not
take a pidfile left by a killed run for a running server: once the pid is reused by
another process, prepare.yml waited on a moto_server that was never started."""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

HELPER = Path(__file__).resolve().parents[2] / "molecule/production/files/s3.py"
spec = importlib.util.spec_from_file_location("scenario_s3", HELPER)
s3 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(s3)


def test_a_pid_reused_by_another_program_is_not_a_running_server(tmp_path):
    pidfile = tmp_path / "moto.pid"
    pidfile.write_text(str(os.getpid()))  # alive, but pytest, not moto_server
    assert not s3.running(pidfile, 45091)


def test_a_dead_pid_is_not_a_running_server(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pidfile = tmp_path / "moto.pid"
    pidfile.write_text(done.stdout.strip())
    assert not s3.running(pidfile, 45091)


def test_the_server_it_started_is_running(tmp_path):
    # A process whose command line is the one start() runs (moto_server -H HOST -p PORT).
    fake = tmp_path / "moto_server"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    process = subprocess.Popen([str(fake), "-H", "127.0.0.1", "-p", "45091"])
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    while b"moto_server" not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)  # until the child has exec'd the fake server
    try:
        pidfile = tmp_path / "moto.pid"
        pidfile.write_text(str(process.pid))
        assert s3.running(pidfile, 45091)
        assert not s3.running(pidfile, 45092)
    finally:
        process.kill()
        process.wait()

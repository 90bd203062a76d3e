"""The test images' packages (tools/image-packages.py): everything the roles and the
scenarios install with apt, read from where they name it. Expected names are Debian's
facts (trixie ships PostgreSQL 17, bookworm 15) and the packages the roles' READMEs
say they install, not the script's own lists."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools/image-packages.py"


def listed(debian: str, kind: str) -> set[str]:
    done = subprocess.run([sys.executable, str(SCRIPT), debian, kind],
                          capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize(("debian", "postgresql"), [("13", "17"), ("12", "15")])
def test_the_services_are_downloaded_never_installed(debian, postgresql):
    download = listed(debian, "download")
    assert {f"postgresql-{postgresql}", "redis-server", "nginx", "certbot"} <= download
    assert not download & listed(debian, "install")


@pytest.mark.parametrize("debian", ["13", "12"])
def test_the_build_and_test_tools_are_installed(debian):
    install = listed(debian, "install")
    # Mastodon's build and media tools, the tls role's Python, the backup helper's
    # libraries, and the web scenario's ACME server.
    assert {"ffmpeg", "imagemagick", "build-essential", "libpq-dev", "git",
            "python3-cryptography", "python3-boto3", "pebble"} <= install
    assert not any(name.startswith("postgresql-1") and not name.startswith("postgresql-client")
                   for name in install)


def test_debians_nodejs_is_left_to_the_role():
    # mastodon_node_source chooses Debian's nodejs or a tarball per host.
    assert "nodejs" not in listed("13", "install") | listed("13", "download")


def test_an_unknown_release_is_refused():
    done = subprocess.run([sys.executable, str(SCRIPT), "11", "install"],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "usage" in done.stderr

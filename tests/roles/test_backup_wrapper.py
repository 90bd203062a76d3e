"""The installed herd-backup command imports herd's package and Debian's modules only:
root running it from a directory someone else can write (Mastodon's app directory)
must not import a module planted there."""

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
from render import REPO, render

PYTHON = Path("/usr/bin/python3")  # the interpreter the wrapper names, Debian's


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wrapper")
    text = render(tmp, "backup", "usr/local/sbin/herd-backup.j2",
                  {"backup_lib_dir": str(REPO / "scripts"), "backup_config_dir": str(tmp)})
    path = tmp / "herd-backup"
    path.write_text(text)
    path.chmod(0o755)
    key = tmp / "backup.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    (tmp / "backup.yml").write_text(json.dumps({
        "target": {"type": "local", "path": str(tmp / "store")}, "key_file": str(key),
        "mastodon": {"root": str(tmp / "live")}}))
    return path


def test_a_module_planted_in_the_working_directory_is_not_imported(wrapper, tmp_path):
    if not PYTHON.exists():
        pytest.skip("needs Debian's /usr/bin/python3")
    live = tmp_path / "live"  # like /home/mastodon/live: writable by Mastodon
    marker = tmp_path / "planted-code-ran"
    for name in ("herd", "yaml"):
        (live / name).mkdir(parents=True)
        (live / name / "__init__.py").write_text(
            f"import pathlib, sys\npathlib.Path({str(marker)!r}).write_text({name!r})\n"
            "sys.exit(99)\n")

    result = subprocess.run([str(wrapper), "check"], cwd=live,
                            capture_output=True, text=True, timeout=60, check=False)
    assert not marker.exists(), f"planted {marker.read_text()} ran: {result.stderr}"
    assert result.returncode == 0, result.stderr

"""TLS quality as a scanner sees it: Debian's testssl.sh from the control node."""

import json
import shutil
import subprocess

import pytest
from conftest import WEB_DOMAIN

WEAK = ("NULL", "aNULL", "EXPORT", "LOW", "3DES_IDEA", "RC4", "CBC_obsolete", "CBC3")


@pytest.fixture(scope="module")
def findings(address, tmp_path_factory) -> dict[str, dict]:
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    assert testssl, "testssl.sh is missing on the control node (tools/setup.sh installs it)"
    report = tmp_path_factory.mktemp("testssl") / "report.json"
    subprocess.run(
        [testssl, "--quiet", "--warnings", "off", "--color", "0", "--fast",
         "--protocols", "--std", "--headers", f"--ip={address}",
         "--jsonfile", str(report), f"https://{WEB_DOMAIN}/assets/x"],
        check=False, capture_output=True, timeout=600,
    )
    return {entry["id"]: entry for entry in json.loads(report.read_text())}


@pytest.mark.parametrize("protocol", ["SSLv2", "SSLv3", "TLS1", "TLS1_1"])
def test_old_protocols_are_refused(findings, protocol):
    assert findings[protocol]["finding"].startswith("not offered")


@pytest.mark.parametrize("protocol", ["TLS1_2", "TLS1_3"])
def test_current_protocols_are_offered(findings, protocol):
    assert findings[protocol]["finding"].startswith("offered")


def test_no_weak_cipher_category_is_offered(findings):
    weak = [key for key in findings if any(key.startswith(f"cipherlist_{w}") for w in WEAK)]
    assert weak, "testssl reported no cipher categories"
    offered = [key for key in weak if not findings[key]["finding"].startswith("not offered")]
    assert offered == []


def test_hsts_is_sent(findings):
    assert findings["HSTS_time"]["severity"] == "OK"

"""The tls role refuses bad input before any change, naming the variable and the fix."""

import datetime
import sys
from pathlib import Path

import pytest
from conftest import changed_nothing, preflight_of, refused
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOMAINS = ["example.coop", "social.example.coop"]
# The explicit "localhost," inventory would discover an interpreter; the
# control-node checks need this one (it has cryptography), as the implicit
# localhost of a real run has.
CONTROL = {"ansible_python_interpreter": sys.executable}


def write_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key


def write_certificate(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAINS[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in DOMAINS]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def pair(tmp_path) -> dict:
    """A matching certificate and key on the control node."""
    key = write_key(tmp_path / "privkey.pem")
    write_certificate(tmp_path / "fullchain.pem", key)
    return {
        "tls_certificate_src": str(tmp_path / "fullchain.pem"),
        "tls_private_key_src": str(tmp_path / "privkey.pem"),
    }


preflight = preflight_of("tls", {**CONTROL, "tls_domains": DOMAINS})


def test_selfsigned_input_passes(preflight):
    result = preflight(tls_mode="selfsigned")
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_nothing(result)


def test_acme_input_passes(preflight):
    result = preflight(tls_mode="acme", tls_acme_email="admin@example.coop")
    assert result.returncode == 0, result.stdout + result.stderr


def test_files_with_matching_pair_passes(preflight, pair):
    result = preflight(tls_mode="files", **pair)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["bad_host.example", "-lead.example.coop", "nodot", "a..b.coop"])
def test_invalid_domain_is_refused(preflight, name):
    result = preflight(tls_mode="selfsigned", tls_domains=[DOMAINS[0], name])
    assert refused(result, "tls_domains", name, "not a valid hostname")


def test_acme_without_contact_email_is_refused(preflight):
    result = preflight(tls_mode="acme")
    assert refused(result, "tls_acme_email", "set it")


def test_acme_directory_over_plain_http_is_refused(preflight):
    result = preflight(
        tls_mode="acme", tls_acme_email="admin@example.coop",
        tls_acme_directory="http://ca.example/dir",
    )
    assert refused(result, "tls_acme_directory", "https://")


def test_files_with_missing_certificate_is_refused(preflight, pair, tmp_path):
    missing = str(tmp_path / "absent.pem")
    result = preflight(tls_mode="files", **{**pair, "tls_certificate_src": missing})
    assert refused(result, "tls_certificate_src", missing, "does not exist")


def test_files_with_missing_key_is_refused(preflight, pair, tmp_path):
    missing = str(tmp_path / "absent-key.pem")
    result = preflight(tls_mode="files", **{**pair, "tls_private_key_src": missing})
    assert refused(result, "tls_private_key_src", missing, "does not exist")


def test_files_without_sources_is_refused(preflight):
    result = preflight(tls_mode="files")
    assert refused(result, "tls_certificate_src", "tls_private_key_src")


def test_key_not_matching_the_certificate_is_refused(preflight, pair, tmp_path):
    other = tmp_path / "other-key.pem"
    write_key(other)
    result = preflight(tls_mode="files", **{**pair, "tls_private_key_src": str(other)})
    assert refused(result, "tls_private_key_src", "does not match the certificate")

"""The certificate comes from the ACME CA (pebble) and renews on its own."""

import socket
import ssl

import pytest
from conftest import NAMES, WEB_DOMAIN, role_defaults

TLS = role_defaults("tls")


def peer_certificate(address: str, context: ssl.SSLContext, name: str) -> dict:
    """The handshake verifies the chain up to the context's roots and the name."""
    with (
        socket.create_connection((address, 443), timeout=10) as sock,
        context.wrap_socket(sock, server_hostname=name) as tls,
    ):
        return tls.getpeercert()


@pytest.mark.parametrize("name", NAMES)
def test_certificate_from_pebble_covers_every_name(address, tls_context, name):
    certificate = peer_certificate(address, tls_context, name)
    alt_names = {value for kind, value in certificate["subjectAltName"] if kind == "DNS"}
    assert alt_names == set(NAMES)


def test_self_signed_placeholder_is_gone(address):
    # The system's CAs do not know pebble, so a verified handshake would mean
    # something else answered; and no self-signed leftover either.
    with pytest.raises(ssl.SSLCertVerificationError):
        peer_certificate(address, ssl.create_default_context(), WEB_DOMAIN)


def test_herd_timer_renews_and_debian_timer_is_masked(host):
    timer = host.service("herd-certbot-renew.timer")
    assert timer.is_enabled
    assert timer.is_running
    assert host.run("systemctl is-enabled certbot.timer").stdout.strip() == "masked"


def test_renewal_service_succeeds_and_nginx_still_answers(host, https):
    host.run_test("systemctl start herd-certbot-renew.service")
    result = host.check_output("systemctl show -p Result --value herd-certbot-renew.service")
    assert result == "success"
    response, _ = https(WEB_DOMAIN, "/assets/x")
    assert response.status == 200


def served_serial(host, name: str) -> str:
    return host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {name} </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial"
    )


def test_renewed_certificate_is_served_after_the_deploy_hook(host):
    before = served_serial(host, WEB_DOMAIN)
    host.run_test(
        "REQUESTS_CA_BUNDLE=/etc/pebble/ca.pem certbot renew --force-renewal"
        " --non-interactive --no-random-sleep-on-renew"
    )
    # Only the deploy hook reloads nginx: a new serial on the wire proves it ran.
    assert served_serial(host, WEB_DOMAIN) != before


def test_private_key_is_root_only(host):
    key = f"{TLS['tls_directory']}/{NAMES[0]}/privkey.pem"
    real = host.file(host.check_output(f"readlink -f {key}"))
    assert real.exists
    assert real.user == "root"
    assert real.mode & 0o077 == 0

"""nginx answers like upstream's vhost: proxying, streaming, static files, redirects."""

import json
import socket
import time

import pytest
from conftest import ALTERNATE_DOMAINS, LOCAL_DOMAIN, VARS, WEB_DOMAIN, role_defaults
from websockets.sync.client import connect

NGINX = role_defaults("nginx")
HSTS = NGINX["nginx_hsts"]


def test_root_reaches_mastodon_with_client_headers(https, host):
    response, body = https(WEB_DOMAIN, "/")
    assert response.status == 200
    seen = json.loads(body)["headers"]
    client = host.check_output("ip route show default").split()[2]  # the control node's side
    assert seen["host"] == WEB_DOMAIN
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-for"] == client
    assert seen["x-real-ip"] == client
    assert "proxy" not in seen
    assert response.getheader("Strict-Transport-Security") == HSTS


def test_alternate_domain_reaches_mastodon(https):
    response, body = https(ALTERNATE_DOMAINS[0], "/")
    assert json.loads(body)["headers"]["host"] == ALTERNATE_DOMAINS[0]


def test_cacheable_answers_come_from_the_proxy_cache(https):
    https(WEB_DOMAIN, "/cacheable")
    response, _ = https(WEB_DOMAIN, "/cacheable")
    assert response.getheader("X-Cached") == "HIT"


def test_assets_are_served_from_disk_with_upstream_headers(https):
    response, body = https(WEB_DOMAIN, "/assets/x")
    assert response.status == 200
    assert body == b"asset served from disk\n"
    assert response.getheader("Cache-Control") == "public, max-age=2419200, must-revalidate"
    assert response.getheader("Strict-Transport-Security") == HSTS


def test_uploads_are_served_from_disk_and_never_run(https):
    response, body = https(WEB_DOMAIN, "/system/x")
    assert response.status == 200
    assert body == b"upload served from disk\n"
    assert response.getheader("Cache-Control") == "public, max-age=2419200, immutable"
    assert response.getheader("Strict-Transport-Security") == HSTS
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Content-Security-Policy") == "default-src 'none'; form-action 'none'"


def test_missing_upload_shows_the_error_page(https):
    response, body = https(WEB_DOMAIN, "/system/missing")
    assert response.status == 404
    assert b"herd error page" in body


@pytest.mark.parametrize("path",
                         ["/assets/missing.js", "/packs/missing.js", "/avatars/missing.png"])
def test_missing_static_file_is_nginx_404_not_a_request_to_puma(https, path):
    # Upstream's dist/nginx.conf (v4.6.5, lines 76-116) serves these prefixes from disk
    # only: a missing file is nginx's 404 with the error page, the backend never sees it.
    response, body = https(WEB_DOMAIN, path)
    assert response.status == 404
    assert b"herd error page" in body


# Upstream's first streaming port (streaming/index.js: PORT || 4000) and the number of
# instances the scenario's inventory asks for.
STREAMING_PORTS = [4000 + offset for offset in range(VARS["mastodon_streaming_instances"])]


def echo_over_streaming(address: str, context) -> str:
    """Open /api/v1/streaming as a client does (101 Switching Protocols), send, read."""
    sock = socket.create_connection((address, 443), timeout=10)
    with connect(f"wss://{WEB_DOMAIN}/api/v1/streaming", sock=sock, ssl=context,
                 server_hostname=WEB_DOMAIN, open_timeout=10) as ws:
        ws.send("hello")
        return str(ws.recv(timeout=10))


def wait_listening(host, port: int, seconds: float = 30) -> None:
    # `systemctl start` returns once the process runs, before it listens.
    deadline = time.monotonic() + seconds
    while not host.socket(f"tcp://0.0.0.0:{port}").is_listening and \
            not host.socket(f"tcp://127.0.0.1:{port}").is_listening:
        assert time.monotonic() < deadline, f"nothing listens on {port}"
        time.sleep(0.5)


@pytest.mark.parametrize("port", STREAMING_PORTS)
def test_streaming_upgrades_and_reaches_every_instance(host, address, tls_context, port):
    # With the other instances stopped, only this port can answer: nginx's
    # upstream must list it.
    others = [p for p in STREAMING_PORTS if p != port]
    wait_listening(host, port)
    for other in others:
        host.run_test(f"systemctl stop standin-streaming@{other}")
    try:
        answer = echo_over_streaming(address, tls_context)
    finally:
        for other in others:
            host.run_test(f"systemctl start standin-streaming@{other}")
        for other in others:
            wait_listening(host, other)
    assert answer == f"{port} hello"


@pytest.mark.parametrize("name", [WEB_DOMAIN, LOCAL_DOMAIN])
def test_plain_http_redirects_to_https(plain_http, name):
    response, _ = plain_http(name, "/about?x=1")
    assert response.status == 301
    assert response.getheader("Location") == f"https://{name}/about?x=1"


def test_acme_challenges_are_served_over_plain_http(host, plain_http):
    webroot = role_defaults("tls")["tls_acme_webroot"]
    host.run_test(
        f"mkdir -p {webroot}/.well-known/acme-challenge"
        f" && echo token-body > {webroot}/.well-known/acme-challenge/probe"
    )
    response, body = plain_http(LOCAL_DOMAIN, "/.well-known/acme-challenge/probe")
    host.run_test(f"rm -f {webroot}/.well-known/acme-challenge/probe")
    assert response.status == 200
    assert body == b"token-body\n"


@pytest.mark.parametrize(
    "path",
    ["/.well-known/webfinger?resource=acct:alice@herd.test", "/.well-known/host-meta",
     "/.well-known/nodeinfo"],
)
def test_local_domain_sends_discovery_to_web_domain(https, path):
    response, _ = https(LOCAL_DOMAIN, path)
    assert response.status == 301
    assert response.getheader("Location") == f"https://{WEB_DOMAIN}{path}"

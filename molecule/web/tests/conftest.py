"""Helpers for the web tier's checks: reach the container as a client would.

Clients connect from the control node to the container's address, asking for
the instance's names (SNI and Host), and trust only pebble's root: the same
path a browser or another Mastodon server takes.
"""

import http.client
import socket
import ssl
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
REPO = SCENARIO.parents[1]


def role_defaults(role: str) -> dict:
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())


def scenario_vars() -> dict:
    molecule = yaml.safe_load((SCENARIO / "molecule.yml").read_text())
    return molecule["provisioner"]["inventory"]["group_vars"]["nginx"]


VARS = scenario_vars()
LOCAL_DOMAIN = VARS["mastodon_local_domain"]
WEB_DOMAIN = VARS["mastodon_web_domain"]
ALTERNATE_DOMAINS = VARS["mastodon_alternate_domains"]
NAMES = [WEB_DOMAIN, LOCAL_DOMAIN, *ALTERNATE_DOMAINS]


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and certificate checks for `name`."""

    def __init__(self, name: str, address: str, context: ssl.SSLContext) -> None:
        super().__init__(name, 443, context=context, timeout=10)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@pytest.fixture(scope="module")
def address(host) -> str:
    """The container's IPv4 address, as the control node reaches it."""
    return host.check_output("hostname -I").split()[0]


@pytest.fixture(scope="module")
def pebble_root(host) -> str:
    """PEM of the root pebble signs with (pebble makes a new one at each start)."""
    return host.check_output("curl -sSf --cacert /etc/pebble/ca.pem https://localhost:15000/roots/0")


@pytest.fixture(scope="module")
def tls_context(pebble_root) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=pebble_root)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@pytest.fixture
def https(address, tls_context):
    """GET over HTTPS: https(name, path) -> (response, body)."""

    def get(name: str, path: str) -> tuple[http.client.HTTPResponse, bytes]:
        connection = PinnedHTTPSConnection(name, address, tls_context)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response, body

    return get


@pytest.fixture
def plain_http(address):
    """GET over plain HTTP on port 80: plain_http(name, path) -> response."""

    def get(name: str, path: str) -> tuple[http.client.HTTPResponse, bytes]:
        connection = http.client.HTTPConnection(address, 80, timeout=10)
        connection.request("GET", path, headers={"Host": name})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response, body

    return get

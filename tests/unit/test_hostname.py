"""The one host-name test every role uses (`is herd_hostname`): what an instance's
names must be, per RFC 1123 labels and the need for a fully qualified name."""

import importlib.util
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "plugins/test/herd_tests.py"
spec = importlib.util.spec_from_file_location("herd_tests", PLUGIN)
tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tests)


@pytest.mark.parametrize("name", ["example.coop", "social.example.coop", "Social.Example.Coop",
                                  "xn--bcher-kva.example", "a-b.c0.org", "social.herd.localhost"])
def test_fully_qualified_names_pass(name):
    assert tests.hostname(name)


@pytest.mark.parametrize("name", ["herdlocal", "localhost", "exa mple.coop", "social_.example.coop",
                                  "-bad.example.coop", "example.coop.", "*.example.coop",
                                  "https://example.coop", "example.coop:443", "a@example.coop",
                                  "10.0.0.1", "", "a" * 64 + ".coop", None, 42])
def test_other_values_fail(name):
    assert not tests.hostname(name)


@pytest.mark.parametrize("value", ["10.0.0.21", "fd00::31", "127.0.0.1"])
def test_single_addresses_pass(value):
    assert tests.ip_address(value)


@pytest.mark.parametrize("value", ["10.0.0.0/24", "10.0.0.300", "web1.example.coop",
                                   "fe80::1%eth0", "", None])
def test_networks_names_and_zones_are_not_addresses(value):
    assert not tests.ip_address(value)


@pytest.mark.parametrize(("value", "expected"), [("127.0.0.1", True), ("-::1", True),
                                                 ("localhost", True), ("10.0.0.10", False),
                                                 ("0.0.0.0", False), ("*", False)])  # noqa: S104 - a value under test
def test_loopback_binds(value, expected):
    assert tests.loopback(value) is expected

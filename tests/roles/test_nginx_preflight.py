"""The nginx role refuses bad input before any change, naming the variable and the fix."""

import sys

import pytest
from conftest import changed_nothing, preflight_of, refused

VALID = {
    # The explicit "localhost," inventory would discover an interpreter; use this one.
    "ansible_python_interpreter": sys.executable,
    "nginx_local_domain": "example.coop",
    "nginx_web_domain": "social.example.coop",
    "nginx_tls_certificate_path": "/etc/herd/tls/social.example.coop/fullchain.pem",
    "nginx_tls_private_key_path": "/etc/herd/tls/social.example.coop/privkey.pem",
    "nginx_acme_webroot": "/var/www/acme",
    "nginx_mastodon_public_dir": "/home/mastodon/live/public",
    # What the playbooks compute for inventories/production's web1 (two web hosts,
    # two streaming instances each).
    "nginx_web_upstreams": ["10.0.0.21:3000", "10.0.0.22:3000"],
    "nginx_streaming_upstreams": ["10.0.0.21:4000", "10.0.0.21:4001",
                                  "10.0.0.22:4000", "10.0.0.22:4001"],
}


preflight = preflight_of("nginx", VALID)


def test_valid_input_passes(preflight):
    result = preflight(nginx_alternate_domains=["old.example.coop"],
                       nginx_streaming_upstreams=["[fd00::21]:4000", "127.0.0.1:65535"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_nothing(result)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("nginx_local_domain", "exa mple.coop"), ("nginx_web_domain", "social_.example.coop"),
     ("nginx_local_domain", "localhost")],
)
def test_invalid_domain_is_refused(preflight, variable, value):
    result = preflight(**{variable: value})
    assert refused(result, variable, value, "not a valid hostname")


def test_invalid_alternate_domain_is_refused(preflight):
    result = preflight(nginx_alternate_domains=["ok.example.coop", "not_ok"])
    assert refused(result, "nginx_alternate_domains", "not_ok", "not a valid hostname")


def test_missing_local_domain_is_refused(run_preflight):
    result = run_preflight("nginx", {k: v for k, v in VALID.items() if k != "nginx_local_domain"})
    assert refused(result, "nginx_local_domain")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("nginx_web_upstreams", []), ("nginx_web_upstreams", ["10.0.0.21"]),
     ("nginx_streaming_upstreams", ["10.0.0.21:0"]), ("nginx_streaming_upstreams", ["a b:4000"]),
     ("nginx_streaming_upstreams", ["10.0.0.21:65536"])],
)
def test_bad_upstreams_are_refused(preflight, variable, value):
    result = preflight(**{variable: value})
    assert refused(result, variable, "ADDRESS:PORT")


@pytest.mark.parametrize("old", ["nginx_streaming_port_count", "nginx_web_port"])
def test_the_replaced_port_variables_are_refused_naming_the_new_ones(preflight, old):
    # An inventory written for the old role (the web scenario once set
    # nginx_streaming_port_count: 2) must not be silently ignored.
    result = preflight(**{old: 2})
    assert refused(result, old, "mastodon_streaming_instances")


def test_bad_body_size_is_refused(preflight):
    result = preflight(nginx_client_max_body_size="99 MB")
    assert refused(result, "nginx_client_max_body_size", "99m")


def test_zero_log_retention_is_refused(preflight):
    result = preflight(nginx_log_retention_days=0)
    assert refused(result, "nginx_log_retention_days", "at least 1")

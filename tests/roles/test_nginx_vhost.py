"""The Mastodon vhost as rendered for a host, compared with upstream's dist/nginx.conf
at v4.6.5 (commit 1440d55b), whose lines are cited; herd's own differences are the
ones roles/nginx/README.md lists."""

import re

import pytest
import yaml
from render import REPO, render
from test_nginx_preflight import VALID

TEMPLATE = "etc/nginx/sites-available/mastodon.conf.j2"
HSTS = yaml.safe_load((REPO / "roles/nginx/defaults/main.yml").read_text())["nginx_hsts"]
STATIC_PREFIXES = ["assets", "avatars", "emoji", "headers", "ocr", "packs", "sounds"]


@pytest.fixture(scope="module")
def vhost(tmp_path_factory) -> str:
    return render(tmp_path_factory.mktemp("nginx"), "nginx", TEMPLATE, VALID)


def mastodon_server(vhost: str) -> str:
    """The server block of WEB_DOMAIN on 443 (the last one in the file)."""
    return vhost[vhost.rindex("server {"):]


def location(vhost: str, name: str) -> list[str]:
    """Directive lines of the location whose head ends with NAME ('/', '/assets/',
    '@mastodon', '/api/v1/streaming'), without comments."""
    server = mastodon_server(vhost)
    match = re.search(r"^\s*location\s+(?:\^~\s+|=\s+)?" + re.escape(name) + r"\s*\{\n(.*?)^\s*\}",
                      server, re.S | re.M)
    assert match, f"no location {name}"
    return [line.strip() for line in match.group(1).splitlines()
            if line.strip() and not line.strip().startswith("#")]


def directive(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.split()[0] == name]


def test_rss_is_compressed_with_its_real_type(vhost):
    # dist/nginx.conf:66 lists application/rss+xml (upstream fixed application/xml+rss in
    # 3c578dbd); Mastodon serves feeds as application/rss+xml.
    (line,) = [line.strip() for line in mastodon_server(vhost).splitlines()
               if line.strip().startswith("gzip_types ")]
    types = line.rstrip(";").split()[1:]
    assert "application/rss+xml" in types
    assert "application/xml+rss" not in types
    assert types == ["text/plain", "text/css", "application/json", "application/javascript",
                     "text/xml", "application/xml", "application/rss+xml", "text/javascript",
                     "image/svg+xml", "image/x-icon"]


def test_streaming_sends_no_hsts(vhost):
    # dist/nginx.conf:126-141: no Strict-Transport-Security in /api/v1/streaming
    # (removed in 1a31c412, "nginx: optimize location blocks (part 2)").
    lines = location(vhost, "/api/v1/streaming")
    assert not [line for line in lines if "Strict-Transport-Security" in line]


@pytest.mark.parametrize("prefix", STATIC_PREFIXES + ["system"])
def test_missing_static_files_are_nginx_404s_not_puma(vhost, prefix):
    # dist/nginx.conf:76-124: the static prefixes are `location ^~ /PREFIX/` with
    # `try_files $uri @mastodon` commented out, so a missing file is nginx's own 404
    # (then error_page, dist/nginx.conf:167), never a request to Puma.
    lines = location(vhost, f"/{prefix}/")
    assert not [line for line in lines if "@mastodon" in line]
    assert directive(lines, "try_files") in ([], ["try_files $uri =404;"])


@pytest.mark.parametrize("prefix", STATIC_PREFIXES + ["system"])
def test_static_prefixes_are_prefix_matches(vhost, prefix):
    # dist/nginx.conf:76-118: `location ^~ /PREFIX/` (no regular expression is checked).
    assert re.search(r"^\s*location \^~ /" + prefix + r"/ \{", mastodon_server(vhost), re.M)


@pytest.mark.parametrize("prefix", STATIC_PREFIXES + ["system"])
def test_static_answers_carry_hsts_on_success_only(vhost, prefix):
    # dist/nginx.conf:78-120: add_header HSTS without `always`: nginx adds it to 2xx/3xx
    # answers, not to its own error answers.
    lines = location(vhost, f"/{prefix}/")
    assert f'add_header Strict-Transport-Security "{HSTS}";' in lines


def test_nginx_error_answers_carry_no_hsts(vhost):
    # Upstream sets HSTS in nginx only without `always` (dist/nginx.conf:70-120); errors
    # nginx makes itself (a missing file, Puma down) go out without it. Puma's answers
    # carry Rails' own header (config/environments/production.rb:38, force_ssl), which
    # herd replaces with nginx_hsts in @mastodon, errors included, as Rails does. The
    # LOCAL_DOMAIN server (herd's) only redirects: 301s carry HSTS without `always`.
    always = [line.strip() for line in vhost.splitlines()
              if "Strict-Transport-Security" in line and "always" in line]
    assert always == [f'add_header Strict-Transport-Security "{HSTS}" always;']
    assert always[0] in location(vhost, "@mastodon")

"""The outside sources an install downloads from (roles/mastodon/filter_plugins/
outside_sources.py): only those the chosen options use, each probed the way its
client fetches it, and every unreachable one named with its variable."""

import importlib.util
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "roles/mastodon/filter_plugins/outside_sources.py"
spec = importlib.util.spec_from_file_location("mastodon_outside_sources", PLUGIN)
sources = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sources)
DEFAULTS = yaml.safe_load((REPO / "roles/mastodon/defaults/main.yml").read_text())

# What an operator writes in an inventory (mirrors inside a co-op's network).
MIRRORS = {
    "git_url": "https://git.example.coop/mirrors/mastodon.git",
    "node_source": "nodesource",
    "nodesource_repo_url": "https://apt.example.coop/node_24.x/",
    "nodesource_key_url": "https://apt.example.coop/nodesource.gpg.key",
    "ruby_source": "rbenv",
    "rbenv_git_url": "https://git.example.coop/mirrors/rbenv.git",
    "ruby_build_git_url": "https://git.example.coop/mirrors/ruby-build.git",
    "ruby_download_url": "https://files.example.coop/ruby/",
    "ruby_version": "",
    "rubygems_mirror": "https://gems.example.coop/",
    "npm_registry": "https://npm.example.coop/",
}


def variables(found):
    return [source["variable"] for source in found]


def test_defaults_name_every_source_upstream_uses():
    options = {name.removeprefix("mastodon_"): value for name, value in DEFAULTS.items()
               if name.startswith("mastodon_")}
    assert variables(sources.mastodon_outside_sources(options)) == [
        "mastodon_git_url", "mastodon_nodesource_key_url", "mastodon_nodesource_repo_url",
        "mastodon_rbenv_git_url", "mastodon_ruby_build_git_url", "mastodon_ruby_download_url"]


def test_every_source_probes_a_url_below_its_mirror():
    found = sources.mastodon_outside_sources(MIRRORS)
    assert [(s["variable"], s["method"], s["target"]) for s in found] == [
        # git's smart HTTP protocol: the ref advertisement a clone starts with.
        ("mastodon_git_url", "GET",
         "https://git.example.coop/mirrors/mastodon.git/info/refs?service=git-upload-pack"),
        ("mastodon_nodesource_key_url", "GET", "https://apt.example.coop/nodesource.gpg.key"),
        # apt's first request for the suite `nodistro` of the role's sources file.
        ("mastodon_nodesource_repo_url", "GET",
         "https://apt.example.coop/node_24.x/dists/nodistro/Release"),
        ("mastodon_rbenv_git_url", "GET",
         "https://git.example.coop/mirrors/rbenv.git/info/refs?service=git-upload-pack"),
        ("mastodon_ruby_build_git_url", "GET",
         "https://git.example.coop/mirrors/ruby-build.git/info/refs?service=git-upload-pack"),
        ("mastodon_ruby_download_url", "HEAD", "https://files.example.coop/ruby/"),
        # The classic full index, which every gem server (and Bundler's fallback) has.
        ("mastodon_rubygems_mirror", "HEAD", "https://gems.example.coop/specs.4.8.gz"),
        # corepack fetches Yarn Berry as the npm package @yarnpkg/cli-dist.
        ("mastodon_npm_registry", "GET", "https://npm.example.coop/@yarnpkg%2fcli-dist"),
    ]


def test_a_known_ruby_version_probes_its_tarball():
    found = sources.mastodon_outside_sources({**MIRRORS, "ruby_version": "4.0.5"})
    tarball = [s for s in found if s["variable"] == "mastodon_ruby_download_url"][0]
    assert tarball["target"] == "https://files.example.coop/ruby/4.0/ruby-4.0.5.tar.gz"
    assert not tarball["any_answer"]


def test_debian_sources_skip_nodesource_and_rbenv():
    found = sources.mastodon_outside_sources(
        {**MIRRORS, "node_source": "debian", "ruby_source": "debian", "npm_registry": "",
         "rubygems_mirror": ""})
    assert variables(found) == ["mastodon_git_url"]


@pytest.mark.parametrize(("url", "probe"), [
    ("/srv/standin/mastodon.git", {"probe": "path", "target": "/srv/standin/mastodon.git"}),
    ("file:///srv/m.git", {"probe": "path", "target": "/srv/m.git"}),
    ("ssh://git@git.example.coop:2222/m.git", {"probe": "tcp", "host": "git.example.coop",
                                               "port": 2222}),
    ("git@git.example.coop:mirrors/m.git", {"probe": "tcp", "host": "git.example.coop",
                                            "port": 22}),
    ("git://git.example.coop/m.git", {"probe": "tcp", "host": "git.example.coop", "port": 9418}),
])
def test_git_url_forms(url, probe):
    found = sources.mastodon_outside_sources({**MIRRORS, "git_url": url})[0]
    assert {key: found[key] for key in probe} == probe


def test_ruby_tarball_url_follows_the_download_site_layout():
    assert sources.mastodon_ruby_tarball_url("https://files.example.coop/ruby/", "3.4.0-preview1") \
        == "https://files.example.coop/ruby/3.4/ruby-3.4.0-preview1.tar.gz"
    with pytest.raises(ValueError):
        sources.mastodon_ruby_tarball_url("https://files.example.coop/ruby", "")


def test_unreachable_sources_are_named_with_their_variable():
    found = sources.mastodon_outside_sources({**MIRRORS, "git_url": "/srv/m.git"})
    by_variable = {s["variable"]: s for s in found}
    # What ansible.builtin.uri, stat and wait_for register for each outcome.
    results = [
        {"item": by_variable["mastodon_git_url"], "stat": {"exists": False}},
        {"item": by_variable["mastodon_nodesource_key_url"], "status": 200},
        {"item": by_variable["mastodon_nodesource_repo_url"], "status": -1,
         "msg": "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] "
                "Connection refused>"},
        {"item": by_variable["mastodon_rbenv_git_url"], "status": 404},
        {"item": by_variable["mastodon_ruby_build_git_url"], "status": 301},
        {"item": by_variable["mastodon_ruby_download_url"], "status": 403},
        {"item": by_variable["mastodon_npm_registry"], "status": 200},
        {"item": None, "skipped": True},
    ]
    lines = sources.mastodon_unreachable_sources(results)
    assert lines == [
        "mastodon_git_url (/srv/m.git: no such path on the host)",
        "mastodon_nodesource_repo_url (https://apt.example.coop/node_24.x: "
        "[Errno 111] Connection refused)",
        "mastodon_rbenv_git_url (https://git.example.coop/mirrors/rbenv.git: HTTP 404)",
    ]  # the download root answered 403: reachable, its tarball is checked by ruby-build


def test_tcp_probe_failure_is_named():
    source = sources.mastodon_outside_sources(
        {**MIRRORS, "git_url": "git@git.example.coop:m.git"})[0]
    assert sources.mastodon_unreachable_sources([
        {"item": source, "failed": True, "msg": "Timeout when waiting for git.example.coop:22"},
    ]) == ["mastodon_git_url (git@git.example.coop:m.git: no TCP connection)"]
    assert sources.mastodon_unreachable_sources([
        {"item": source, "state": "started", "elapsed": 0}]) == []


def test_the_binary_source_probes_its_release_checksum_file():
    """nodejs.org/dist's layout: v<version>/SHASUMS256.txt names the release's tarballs."""
    found = sources.mastodon_outside_sources(
        {**MIRRORS, "node_source": "binary", "node_dist_url": "https://files.example.coop/node/",
         "node_version": "24.17.0"})
    assert variables(found)[:2] == ["mastodon_git_url", "mastodon_node_dist_url"]
    assert "mastodon_nodesource_repo_url" not in variables(found)
    assert (found[1]["probe"], found[1]["target"]) == (
        "http", "https://files.example.coop/node/v24.17.0/SHASUMS256.txt")


def test_a_local_copy_of_the_node_downloads_must_exist_on_the_host():
    found = sources.mastodon_outside_sources(
        {**MIRRORS, "node_source": "binary", "node_dist_url": "file:///srv/node-dist",
         "node_version": "24.17.0"})
    assert (found[1]["probe"], found[1]["target"]) == (
        "path", "/srv/node-dist/v24.17.0/SHASUMS256.txt")


def test_node_release_downloads_follow_the_dist_layout():
    """nodejs.org/dist/v24.17.0/ holds node-v24.17.0-linux-x64.tar.gz and SHASUMS256.txt."""
    assert sources.mastodon_node_dist("https://files.example.coop/node/", "24.17.0", "arm64") == {
        "release": "node-v24.17.0-linux-arm64",
        "release_url": "https://files.example.coop/node/v24.17.0",
        "tarball_url": "https://files.example.coop/node/v24.17.0/node-v24.17.0-linux-arm64.tar.gz",
        "sums_url": "https://files.example.coop/node/v24.17.0/SHASUMS256.txt",
    }

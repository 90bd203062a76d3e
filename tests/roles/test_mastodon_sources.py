"""The preflight probes every outside source the install downloads from, from the
host, before any change, and fails once naming each unreachable one with its
variable. Sources here are a loopback HTTP mirror this test starts, or a closed
loopback port: nothing outside this machine is contacted."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import changed_nothing, refused

BASE = {"mastodon_local_domain": "social.example.coop"}
# Every source variable of roles/mastodon/defaults/main.yml the defaults (NodeSource,
# rbenv) and a set npm registry make the install use.
SOURCE_VARIABLES = ["mastodon_git_url", "mastodon_nodesource_key_url",
                    "mastodon_nodesource_repo_url", "mastodon_rbenv_git_url",
                    "mastodon_ruby_build_git_url", "mastodon_ruby_download_url",
                    "mastodon_rubygems_mirror", "mastodon_npm_registry"]


class _Mirror(BaseHTTPRequestHandler):
    """Answers 200 to every GET and HEAD, and records the paths asked for."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.seen.append(self.path)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mirror():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Mirror)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sources_at(root: str) -> dict:
    return {
        "mastodon_git_url": f"{root}/mastodon.git",
        "mastodon_nodesource_key_url": f"{root}/nodesource.gpg.key",
        "mastodon_nodesource_repo_url": f"{root}/node_24.x",
        "mastodon_rbenv_git_url": f"{root}/rbenv.git",
        "mastodon_ruby_build_git_url": f"{root}/ruby-build.git",
        "mastodon_ruby_download_url": f"{root}/ruby",
        "mastodon_rubygems_mirror": f"{root}/gems",
        "mastodon_npm_registry": f"{root}/npm",
    }


def test_reachable_mirrors_pass_and_each_is_probed(run_preflight, mirror):
    _Mirror.seen.clear()
    result = run_preflight("mastodon", {**BASE, **sources_at(mirror)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_nothing(result)
    # The request each client starts with (independent of the plugin: git's smart
    # HTTP, apt's Release file, corepack's Yarn package).
    assert sorted(_Mirror.seen) == sorted([
        "/mastodon.git/info/refs?service=git-upload-pack", "/nodesource.gpg.key",
        "/node_24.x/dists/nodistro/Release", "/rbenv.git/info/refs?service=git-upload-pack",
        "/ruby-build.git/info/refs?service=git-upload-pack", "/ruby/", "/gems/specs.4.8.gz",
        "/npm/@yarnpkg%2fcli-dist"])


def test_unreachable_sources_fail_once_naming_each_variable(run_preflight, closed_port):
    start = time.monotonic()
    result = run_preflight("mastodon", {**BASE, **sources_at(f"http://127.0.0.1:{closed_port}")})
    elapsed = time.monotonic() - start
    assert refused(result, "cannot reach 8 source(s)", *SOURCE_VARIABLES), result.stdout[-3000:]
    output = result.stdout + result.stderr
    # One refusal (one failed task), not one per source, before any change.
    assert output.count("fatal: [") == 1 and "failed=1" in output, output[-3000:]
    assert changed_nothing(result)
    assert elapsed < 120, elapsed


def test_only_the_sources_of_the_chosen_options_are_probed(run_preflight, mirror, closed_port):
    """Debian's Node and Ruby: NodeSource, rbenv, ruby-build and the Ruby tarball are not
    used, so their (unreachable) URLs are not named; the git URL still is."""
    closed = sources_at(f"http://127.0.0.1:{closed_port}")
    result = run_preflight("mastodon", {
        **BASE, **closed, "mastodon_node_source": "debian", "mastodon_ruby_source": "debian",
        "mastodon_npm_registry": "", "mastodon_rubygems_mirror": ""})
    assert refused(result, "cannot reach 1 source(s)", "mastodon_git_url")
    output = result.stdout + result.stderr
    for variable in SOURCE_VARIABLES[1:]:
        assert f"{variable} (" not in output, variable


def test_operations_playbooks_skip_the_sources(run_preflight, closed_port):
    """backup.yml, maintenance.yml and restore.yml install nothing."""
    result = run_preflight("mastodon", {
        **BASE, **sources_at(f"http://127.0.0.1:{closed_port}"),
        "herd_preflight_operations": ["maintenance"]})
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_binary_node_source_is_probed_by_its_checksum_file(run_preflight, mirror,
                                                                closed_port):
    """mastodon_node_source: binary downloads v<version>/SHASUMS256.txt and the tarball it
    names from mastodon_node_dist_url (nodejs.org/dist's layout); NodeSource is unused."""
    _Mirror.seen.clear()
    closed = sources_at(f"http://127.0.0.1:{closed_port}")
    options = {**BASE, "mastodon_git_url": f"{mirror}/mastodon.git",
               "mastodon_node_source": "binary", "mastodon_node_version": "24.17.0",
               "mastodon_ruby_source": "debian",
               "mastodon_nodesource_repo_url": closed["mastodon_nodesource_repo_url"],
               "mastodon_nodesource_key_url": closed["mastodon_nodesource_key_url"]}
    result = run_preflight("mastodon", {**options, "mastodon_node_dist_url": f"{mirror}/node"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/node/v24.17.0/SHASUMS256.txt" in _Mirror.seen
    result = run_preflight("mastodon", {**options,
                                        "mastodon_node_dist_url": f"http://127.0.0.1:{closed_port}/node"})
    assert refused(result, "cannot reach 1 source(s)", "mastodon_node_dist_url")
    assert changed_nothing(result)

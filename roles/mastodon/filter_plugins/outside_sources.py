"""Every outside source an install downloads from, for the options chosen, and how
to probe it from the host (the host downloads them, not the control node).

The preflight (tasks/preflight_host.yml) probes each one before any change and
fails once, naming each unreachable source with the variable that points it at a
mirror: a newcomer behind a firewall learns all of them in one run, in seconds,
rather than one per failed half-converged run.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# ruby-build fetches Ruby from <mastodon_ruby_download_url>/<major.minor>/ruby-<v>.tar.gz
# (the layout of the download site its definitions name).
_RUBY_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)")


def mastodon_ruby_tarball_url(base: str, version: str) -> str:
    """URL of Ruby's source tarball below a download root (or a mirror of it)."""
    match = _RUBY_VERSION.match(version or "")
    if not match:
        raise ValueError(f"not a Ruby version: {version!r}")
    return f"{base.rstrip('/')}/{match.group(1)}.{match.group(2)}/ruby-{version}.tar.gz"


def mastodon_node_dist(base: str, version: str, arch: str = "x64") -> dict:
    """Where a Node.js release is below a download root (nodejs.org/dist or a mirror
    with its layout): v<version>/ holds SHASUMS256.txt, which names every tarball of
    the release, and node-v<version>-linux-<arch>.tar.gz, which unpacks into a
    directory of the tarball's name."""
    release_url = f"{base.rstrip('/')}/v{version}"
    release = f"node-v{version}-linux-{arch}"
    return {"release": release, "release_url": release_url,
            "tarball_url": f"{release_url}/{release}.tar.gz",
            "sums_url": f"{release_url}/SHASUMS256.txt"}


def _git_probe(variable: str, url: str) -> dict:
    """A git remote: smart HTTP answers GET <url>/info/refs?service=git-upload-pack
    (git's http protocol); ssh and git:// are probed by a TCP connection; a local
    path (or file://) must exist on the host."""
    source = {"variable": variable, "url": url}
    if re.match(r"^https?://", url):
        return {**source, "probe": "http", "method": "GET",
                "target": url.rstrip("/") + "/info/refs?service=git-upload-pack"}
    if url.startswith(("ssh://", "git://", "git+ssh://", "ssh+git://")):
        parts = urlsplit(url)
        port = parts.port or (9418 if parts.scheme == "git" else 22)
        return {**source, "probe": "tcp", "host": parts.hostname or "", "port": port}
    scp_like = re.match(r"^(?:[^@/:]+@)?([^/:]+):(?!//)", url)
    if scp_like and not url.startswith("/"):
        return {**source, "probe": "tcp", "host": scp_like.group(1), "port": 22}
    path = url.removeprefix("file://")
    return {**source, "probe": "path", "target": path}


def _http_probe(variable: str, url: str, target: str, method: str = "GET",
                any_answer: bool = False) -> dict:
    return {"variable": variable, "url": url, "probe": "http", "method": method,
            "target": target, "any_answer": any_answer}


def mastodon_outside_sources(options: dict) -> list[dict]:
    """The sources a run with these options downloads from, in download order.

    options: the role's variables without their `mastodon_` prefix (git_url,
    node_source, nodesource_repo_url, nodesource_key_url, node_dist_url, node_version,
    ruby_source, rbenv_git_url,
    ruby_build_git_url, ruby_download_url, ruby_version, rubygems_mirror, npm_registry).
    Only what the
    chosen options use: no NodeSource with node_source debian, no rbenv, ruby-build or
    Ruby tarball with ruby_source debian, no gem mirror or npm registry while left
    empty (then Bundler uses the Gemfile's sources, corepack and Yarn their built-in
    registry, none of which the role names)."""
    sources = [_git_probe("mastodon_git_url", options["git_url"])]
    if options.get("node_source") == "nodesource":
        key = options["nodesource_key_url"]
        repo = options["nodesource_repo_url"].rstrip("/")
        sources.append(_http_probe("mastodon_nodesource_key_url", key, key))
        # apt reads dists/<suite>/Release first; the role's suite is `nodistro`.
        sources.append(_http_probe("mastodon_nodesource_repo_url", repo,
                                   repo + "/dists/nodistro/Release"))
    if options.get("node_source") == "binary":
        # The release's checksum file names every tarball of that release; a local copy
        # (file://) must exist on the host.
        dist = options["node_dist_url"].rstrip("/")
        sums = mastodon_node_dist(dist, options["node_version"])["sums_url"]
        if dist.startswith("file://"):
            sources.append({"variable": "mastodon_node_dist_url", "url": dist,
                            "probe": "path", "target": sums.removeprefix("file://")})
        else:
            sources.append(_http_probe("mastodon_node_dist_url", dist, sums))
    if options.get("ruby_source") == "rbenv":
        sources.append(_git_probe("mastodon_rbenv_git_url", options["rbenv_git_url"]))
        sources.append(_git_probe("mastodon_ruby_build_git_url", options["ruby_build_git_url"]))
        base = options["ruby_download_url"].rstrip("/")
        if options.get("ruby_version"):
            tarball = mastodon_ruby_tarball_url(base, options["ruby_version"])
            sources.append(_http_probe("mastodon_ruby_download_url", base, tarball, "HEAD"))
        else:
            # The version comes from the release's .ruby-version, not checked out yet:
            # any HTTP answer from the download root shows it is reachable.
            sources.append(_http_probe("mastodon_ruby_download_url", base, base + "/",
                                       "HEAD", any_answer=True))
    gems = (options.get("rubygems_mirror") or "").rstrip("/")
    if gems:
        # The full index every gem server serves (Bundler falls back to it).
        sources.append(_http_probe("mastodon_rubygems_mirror", gems, gems + "/specs.4.8.gz",
                                   "HEAD"))
    registry = (options.get("npm_registry") or "").rstrip("/")
    if registry:
        # corepack fetches Yarn Berry as the npm package @yarnpkg/cli-dist.
        sources.append(_http_probe("mastodon_npm_registry", registry,
                                   registry + "/@yarnpkg%2fcli-dist"))
    return sources


def _why(result: dict) -> str:
    """What went wrong with one probe, in a few words."""
    if result.get("probe") == "path":
        return "no such path on the host"
    if result.get("probe") == "tcp":
        return "no TCP connection"
    status = result.get("status", -1)
    if status not in (-1, None) and status >= 400:
        return f"HTTP {status}"
    message = str(result.get("msg") or "no answer")
    # uri's "Status code was -1 and not [...]: Request failed: <urlopen error ...>"
    found = re.search(r"Request failed: (.*)", message)
    why = found.group(1) if found else message
    # <urlopen error [Errno 111] Connection refused> -> [Errno 111] Connection refused
    why = re.sub(r"^<urlopen error (.*)>$", r"\1", why.strip())
    return why[:160]


def _reachable(source: dict, result: dict) -> bool:
    if source["probe"] == "path":
        return bool(result.get("stat", {}).get("exists"))
    if source["probe"] == "tcp":
        return not result.get("failed") and result.get("state") in (None, "started")
    status = result.get("status", -1)
    if status in (-1, None):
        return False
    return source.get("any_answer", False) or 200 <= status < 400


def mastodon_unreachable_sources(results: list[dict]) -> list[str]:
    """One line per unreachable source, from the registered results of the probes
    (each with the source as `item`; a skipped probe is another kind's)."""
    lines = []
    for result in results:
        source = result.get("item")
        if not source or result.get("skipped"):
            continue
        if not _reachable(source, {**result, "probe": source["probe"]}):
            lines.append(f"{source['variable']} ({source['url']}: "
                         f"{_why({**result, 'probe': source['probe']})})")
    return lines


class FilterModule:
    def filters(self):
        return {
            "mastodon_outside_sources": mastodon_outside_sources,
            "mastodon_unreachable_sources": mastodon_unreachable_sources,
            "mastodon_ruby_tarball_url": mastodon_ruby_tarball_url,
            "mastodon_node_dist": mastodon_node_dist,
        }

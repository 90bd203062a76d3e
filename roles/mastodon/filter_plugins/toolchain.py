"""The release's own toolchain requirements, read from its checkout, and the
toolchain the role is about to build with checked against them.

A release states what it needs in four files (upstream v4.6.5 at 1440d55b):
  .ruby-version          `4.0.5` (line 1): the Ruby rbenv builds;
  Gemfile                `ruby '>= 3.3.0', '< 4.1.0'` (line 4): the Rubies Bundler accepts;
  package.json           `"packageManager": "yarn@4.16.0"` (line 4) and
                         `"engines": {"node": ">=22"}` (lines 5-7);
  Gemfile.lock           `BUNDLED WITH` / `4.0.13` (lines 1104-1105): the Bundler that wrote it.
The constraint languages are RubyGems' Gem::Requirement (Gemfile `ruby`) and npm's
node-semver ranges (package.json `engines`); both are implemented below for release
versions, and anything they do not cover is reported as unreadable, never guessed.
"""

from __future__ import annotations

import json
import re

# --- RubyGems versions and requirements (Gem::Version, Gem::Requirement) ------------

_GEM_VERSION = re.compile(r"^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z.-]+)?$")
_GEM_OPERATORS = ("=", "!=", ">", "<", ">=", "<=", "~>")
_GEM_REQUIREMENT = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*(\S+)\s*$")


def _gem_segments(version: str) -> list:
    """Gem::Version#segments: numbers, and the letters of a pre-release as strings
    ("4.0.0.preview1" -> [4, 0, 0, "preview", 1]); "-" marks a pre-release too."""
    if not _GEM_VERSION.match(version):
        raise ValueError(f"not a RubyGems version: {version!r}")
    text = version.replace("-", ".pre.")
    return [int(part) if part.isdigit() else part
            for part in re.findall(r"[0-9]+|[a-zA-Z]+", text)]


def _gem_compare(left: str, right: str) -> int:
    """Gem::Version#<=>: segment by segment, missing segments count as 0, a letter
    segment (pre-release) sorts before any number."""
    a, b = _gem_segments(left), _gem_segments(right)
    for index in range(max(len(a), len(b))):
        x = a[index] if index < len(a) else 0
        y = b[index] if index < len(b) else 0
        if x == y:
            continue
        if isinstance(x, str) and isinstance(y, str):
            return -1 if x < y else 1
        if isinstance(x, str):
            return -1
        if isinstance(y, str):
            return 1
        return -1 if x < y else 1
    return 0


def _gem_bump(version: str) -> str:
    """Gem::Version#bump: drop pre-release parts and the last segment (unless it is
    the only one), then add one to the new last: 3.3.0 -> 3.4, 3.3 -> 4, 3 -> 4."""
    segments = _gem_segments(version)
    while any(isinstance(s, str) for s in segments):
        segments.pop()
    if len(segments) > 1:
        segments.pop()
    segments[-1] += 1
    return ".".join(str(s) for s in segments)


def _gem_release(version: str) -> str:
    """Gem::Version#release: the version without its pre-release part."""
    segments = _gem_segments(version)
    while any(isinstance(s, str) for s in segments):
        segments.pop()
    return ".".join(str(s) for s in segments)


def gem_requirement_parse(text: str) -> tuple[str, str]:
    """One Gem::Requirement string ("~> 3.3", ">= 3.3.0", "3.3.0") as (operator, version);
    a bare version means "=". ValueError when RubyGems would refuse it too."""
    match = _GEM_REQUIREMENT.match(text)
    if not match:
        raise ValueError(f"not a RubyGems requirement: {text!r}")
    operator, version = match.group(1) or "=", match.group(2)
    _gem_segments(version)
    return operator, version


def gem_satisfies(version: str, requirements: list[str]) -> bool:
    """Gem::Requirement#satisfied_by?: every requirement holds. `~> X.Y` means
    >= X.Y and a release below X.Y's bump (Gem::Requirement's "~>" operation)."""
    for text in requirements:
        operator, wanted = gem_requirement_parse(text)
        order = _gem_compare(version, wanted)
        held = {
            "=": order == 0,
            "!=": order != 0,
            ">": order > 0,
            "<": order < 0,
            ">=": order >= 0,
            "<=": order <= 0,
            "~>": order >= 0 and _gem_compare(_gem_release(version), _gem_bump(wanted)) < 0,
        }[operator]
        if not held:
            return False
    return True


# --- npm's node-semver ranges (package.json engines) ----------------------------------

_PARTIAL = re.compile(r"^v?=?\s*(\*|x|X|[0-9]+)(?:\.(\*|x|X|[0-9]+))?(?:\.(\*|x|X|[0-9]+))?$")
_COMPARATOR = re.compile(r"^(<=|>=|<|>|=|\^|~>|~)?\s*(.*)$")


def _partial(text: str) -> list[int | None]:
    """[major, minor, patch] with None for a wildcard or a missing part. Pre-release
    and build tags are not supported: engines ranges name releases."""
    match = _PARTIAL.match(text.strip())
    if not match:
        raise ValueError(f"not a version in a node-semver range: {text!r}")
    parts: list[int | None] = []
    for group in match.groups():
        if group is None or group in ("*", "x", "X"):
            parts.append(None)
        else:
            parts.append(int(group))
    # After the first wildcard everything is a wildcard (1.x.3 means 1.x).
    if None in parts:
        first = parts.index(None)
        parts = parts[:first] + [None] * (3 - first)
    return parts


def _fill(parts: list[int | None]) -> tuple[int, int, int]:
    return tuple(p or 0 for p in parts)  # type: ignore[return-value]


def _next_of(parts: list[int | None]) -> tuple[int, int, int]:
    """The first release above a partial version: 1 -> 2.0.0, 1.2 -> 1.3.0."""
    major, minor, _ = parts
    if minor is None:
        return (major + 1, 0, 0)  # type: ignore[operator]
    return (major, minor + 1, 0)  # type: ignore[return-value]


def _comparators(operator: str, parts: list[int | None]) -> list[tuple[str, tuple]]:
    """node-semver's desugaring of one comparator into plain >=, <, <=, >, = ones."""
    major, minor, patch = parts
    if major is None:
        return [] if operator in ("", "=", ">=", "<=", "^", "~", "~>") else [("<", (0, 0, 0))]
    partial = minor is None or patch is None
    low = _fill(parts)
    if operator in ("", "="):
        return [(">=", low), ("<", _next_of(parts))] if partial else [("=", low)]
    if operator == ">=":
        return [(">=", low)]
    if operator == ">":
        return [(">=", _next_of(parts))] if partial else [(">", low)]
    if operator == "<":
        return [("<", low)]
    if operator == "<=":
        return [("<", _next_of(parts))] if partial else [("<=", low)]
    if operator in ("~", "~>"):
        # ~1.2.3 and ~1.2: patch-level changes; ~1: minor-level changes.
        upper = (major + 1, 0, 0) if minor is None else (major, minor + 1, 0)
        return [(">=", low), ("<", upper)]
    # ^: changes that keep the left-most non-zero part of the version.
    if major != 0 or minor is None:
        upper = (major + 1, 0, 0)
    elif minor != 0 or patch is None:
        upper = (0, minor + 1, 0)
    else:
        upper = (0, 0, patch + 1)
    return [(">=", low), ("<", upper)]


def _hyphen(low_text: str, high_text: str) -> list[tuple[str, tuple]]:
    """`A - B`: >= A (missing parts 0) and <= B, or < the next of a partial B."""
    low, high = _partial(low_text), _partial(high_text)
    result = [(">=", _fill(low))] if low[0] is not None else []
    if high[0] is None:
        return result
    if high[1] is None or high[2] is None:
        return [*result, ("<", _next_of(high))]
    return [*result, ("<=", _fill(high))]


def _semver_set(text: str) -> list[list[tuple[str, tuple]]]:
    """A range as alternatives (||) of comparator lists that must all hold."""
    alternatives = []
    for alternative in text.split("||"):
        alternative = alternative.strip()
        hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", alternative)
        if hyphen:
            alternatives.append(_hyphen(hyphen.group(1), hyphen.group(2)))
            continue
        # "> 1.2" is one comparator: glue operators to their version first.
        tokens = re.sub(r"(<=|>=|<|>|=|\^|~>|~)\s+", r"\1", alternative).split()
        comparators: list[tuple[str, tuple]] = []
        for token in tokens or [""]:
            match = _COMPARATOR.match(token)
            operator, version = match.group(1) or "", match.group(2)  # type: ignore[union-attr]
            comparators += _comparators(operator, _partial(version or "*"))
        alternatives.append(comparators)
    return alternatives


def semver_satisfies(version: str, range_text: str) -> bool:
    """node-semver's satisfies(version, range) for a release version ("v20.19.2")."""
    parts = _partial(version)
    if None in parts:
        raise ValueError(f"not a full version: {version!r}")
    have = _fill(parts)
    checks = {"=": lambda a, b: a == b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b,
              "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
    return any(all(checks[op](have, bound) for op, bound in alternative)
               for alternative in _semver_set(range_text))


# --- The release's files ---------------------------------------------------------------

def _ruby_version_file(text: str) -> str:
    """.ruby-version as rbenv reads it: the first word, without a `ruby-` prefix."""
    words = text.split()
    return words[0].removeprefix("ruby-") if words else ""


def _gemfile_ruby(text: str, ruby_version_file: str) -> list[str]:
    """The requirement strings of the Gemfile's `ruby` line (Bundler's DSL `ruby`):
    `ruby '>= 3.3.0', '< 4.1.0'`, or `ruby file: '.ruby-version'` (that file's
    version, exactly). [] when the Gemfile names no Ruby."""
    match = re.search(r"^[ \t]*ruby[ \t(]+(.*)$", text, re.MULTILINE)
    if not match:
        return []
    line = match.group(1)
    if re.search(r"\bfile:", line):
        return [ruby_version_file] if ruby_version_file else []
    # Only the quoted strings before the first `key:` option (engine:, patchlevel:).
    head = re.split(r"\b\w+:\s", line, maxsplit=1)[0]
    return re.findall(r"""['"]([^'"]*)['"]""", head)


def _bundled_with(text: str) -> str:
    """The version under Gemfile.lock's `BUNDLED WITH` section (its last section)."""
    match = re.search(r"^BUNDLED WITH\s*\n\s+(\S+)", text, re.MULTILINE)
    return match.group(1) if match else ""


def _package_manager(value: str) -> dict:
    """package.json `packageManager` as corepack reads it: name@version, optionally
    followed by +<hash algorithm>.<hash>."""
    match = re.match(r"^([a-z][a-z0-9-]*)@([0-9][0-9A-Za-z.-]*)(?:\+\S+)?$", value)
    if not match:
        raise ValueError(f"packageManager: not name@version: {value!r}")
    return {"name": match.group(1), "version": match.group(2)}


def mastodon_release_requirements(files: dict) -> dict:
    """What the checkout asks of the toolchain, from {file name: text or None}.

    Returns {ruby_version, ruby_requirements, node_range, package_manager,
    bundled_with, problems}: empty values for what a file does not state, and one
    problem per file or constraint that cannot be read."""
    problems = []
    ruby_version = _ruby_version_file(files.get(".ruby-version") or "")
    ruby_requirements = _gemfile_ruby(files.get("Gemfile") or "", ruby_version)
    try:
        for requirement in ruby_requirements:
            gem_requirement_parse(requirement)
    except ValueError as error:
        problems.append(f"Gemfile `ruby` line: {error}")
        ruby_requirements = []
    node_range, package_manager = "", None
    if files.get("package.json"):
        try:
            package = json.loads(files["package.json"])
            declared = str((package.get("engines") or {}).get("node", "")).strip()
            _semver_set(declared)
            node_range = declared
            if package.get("packageManager"):
                package_manager = _package_manager(str(package["packageManager"]))
        except ValueError as error:
            problems.append(f"package.json: {error}")
    bundled_with = _bundled_with(files.get("Gemfile.lock") or "")
    return {"ruby_version": ruby_version, "ruby_requirements": ruby_requirements,
            "node_range": node_range, "package_manager": package_manager,
            "bundled_with": bundled_with, "problems": problems}


def _version_in(text: str) -> str:
    """The first dotted number in a tool's --version output ("Bundler version 2.6.7")."""
    match = re.search(r"[0-9]+(?:\.[0-9]+)+", text or "")
    return match.group(0) if match else ""


def mastodon_toolchain_problems(requirements: dict, toolchain: dict) -> list[str]:
    """Refusals, each naming the variable to change, for a toolchain that does not
    satisfy the release's requirements (mastodon_release_requirements).

    toolchain: release (tag), node_source, node_version (`node --version`),
    ruby_source, ruby_version (the Ruby the build will use), ruby_version_set (the
    operator's mastodon_ruby_version), bundler_version (`bundle --version` of
    Debian's Ruby; ignored for rbenv, whose Bundler switches to the locked version
    itself), corepack_version (`corepack --version`, empty when absent)."""
    release = toolchain.get("release", "the release")
    problems = [f"mastodon_version: cannot read {release}'s toolchain requirements: {p}"
                for p in requirements.get("problems", [])]

    node_range = requirements.get("node_range", "")
    node_version = _version_in(toolchain.get("node_version", ""))
    if node_range and node_version and not semver_satisfies(node_version, node_range):
        source = toolchain.get("node_source")
        fixes = {
            "debian": "Debian's nodejs is too old for this release: set mastodon_node_source: "
                      "nodesource (upstream's way) with a mastodon_nodesource_repo_url whose "
                      "major satisfies it, or binary with a mastodon_node_version that does",
            "binary": "set mastodon_node_version to a Node.js release that satisfies it",
        }
        fix = fixes.get(source, "point mastodon_nodesource_repo_url at a NodeSource major "
                                "that satisfies it")
        problems.append(
            f"mastodon_node_source: {release} requires Node {node_range} (package.json "
            f"engines.node) but mastodon_node_source: {source} gives Node {node_version}; {fix}.")

    ruby_version = toolchain.get("ruby_version", "")
    ruby_source = toolchain.get("ruby_source")
    wanted = requirements.get("ruby_requirements", [])
    if ruby_source == "rbenv" and not ruby_version:
        problems.append(f"mastodon_ruby_version: {release} has no .ruby-version; set "
                        "mastodon_ruby_version to a Ruby its Gemfile admits.")
    elif wanted and ruby_version:
        try:
            satisfied = gem_satisfies(ruby_version, wanted)
        except ValueError as error:
            problems.append(f"mastodon_ruby_version: {error}")
            satisfied = True
        if not satisfied:
            constraint = ", ".join(wanted)
            if ruby_source == "debian":
                problems.append(
                    f"mastodon_ruby_source: Debian's Ruby {ruby_version} does not satisfy "
                    f"{release}'s Gemfile requirement ({constraint}). Use mastodon_ruby_source: "
                    "rbenv (upstream's way) for this release.")
            else:
                from_file = requirements.get("ruby_version", "")
                problems.append(
                    f"mastodon_ruby_version: Ruby {ruby_version} does not satisfy {release}'s "
                    f"Gemfile requirement ({constraint}). Leave mastodon_ruby_version empty to "
                    f"build the release's .ruby-version ({from_file or 'none'}) or set one the "
                    "Gemfile admits.")

    # Bundler switches to the locked version by itself (Bundler::SelfManager): a Bundler
    # older than the lockfile's BUNDLED WITH installs that version from the gem server
    # (or mastodon_rubygems_mirror) and restarts with it, so Debian's older Bundler is
    # fine, whatever its major. Only a Ruby without Bundler cannot build.
    locked = requirements.get("bundled_with", "")
    bundler = _version_in(toolchain.get("bundler_version", ""))
    if ruby_source == "debian" and locked and not bundler:
        problems.append("mastodon_ruby_source: Debian's Ruby has no bundler to run; "
                        "the role installs Debian's bundler package with it.")

    manager = requirements.get("package_manager")
    if manager and manager["name"] != "yarn":
        problems.append(f"mastodon_version: {release} builds with {manager['name']} "
                        "(package.json packageManager); herd builds with Yarn, as upstream's "
                        "install guide does.")
    elif manager and not toolchain.get("corepack_version"):
        problems.append(
            f"mastodon_node_source: {release} builds with yarn@{manager['version']} "
            "(package.json packageManager) through corepack, which this Node.js lacks; set "
            "mastodon_corepack_version (and mastodon_npm_registry) or use "
            "mastodon_node_source: nodesource or binary.")
    return problems


class FilterModule:
    def filters(self):
        return {
            "mastodon_release_requirements": mastodon_release_requirements,
            "mastodon_toolchain_problems": mastodon_toolchain_problems,
        }

"""The release's toolchain requirements (roles/mastodon/filter_plugins/toolchain.py):
read like Bundler, rbenv, corepack and npm read them, and refused with the variable
to change when the toolchain does not satisfy them.

Expected values come from upstream's files at v4.6.5 (glitch-soc/mastodon 1440d55b,
vanilla at that commit) and v4.5.15 (bf046ffa), quoted line by line below, and from
the documented semantics of Gem::Requirement and node-semver."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "roles/mastodon/filter_plugins/toolchain.py"
spec = importlib.util.spec_from_file_location("mastodon_toolchain", PLUGIN)
toolchain = importlib.util.module_from_spec(spec)
spec.loader.exec_module(toolchain)
STANDIN = REPO / "molecule/shared/standin/releases"

# Upstream v4.6.5 (1440d55b): .ruby-version line 1; Gemfile line 4; package.json
# lines 4-7; Gemfile.lock lines 1101-1105 (two-space indent, as Bundler 4 writes it).
V465 = {
    ".ruby-version": "4.0.5\n",
    "Gemfile": "# frozen_string_literal: true\n\nsource 'https://gems.example'\n"
               "ruby '>= 3.3.0', '< 4.1.0'\n\ngem 'puma', '~> 7.0'\n",
    "package.json": json.dumps({"name": "@mastodon/mastodon", "packageManager": "yarn@4.16.0",
                                "engines": {"node": ">=22"}}),
    "Gemfile.lock": "DEPENDENCIES\n  puma (~> 7.0)\n\nRUBY VERSION\n  ruby 4.0.5\n\n"
                    "BUNDLED WITH\n  4.0.13\n",
}
# Upstream v4.5.15 (bf046ffa): .ruby-version 3.4.7; Gemfile line 4; package.json
# lines 4-7; Gemfile.lock lines 1090-1094 (three-space indent, Bundler 2).
V4515 = {
    ".ruby-version": "3.4.7\n",
    "Gemfile": "source 'https://gems.example'\nruby '>= 3.2.0', '< 3.5.0'\n",
    "package.json": json.dumps({"packageManager": "yarn@4.10.3", "engines": {"node": ">=20"}}),
    "Gemfile.lock": "RUBY VERSION\n   ruby 3.4.1p0\n\nBUNDLED WITH\n   2.7.2\n",
}
# Debian 13's packages: nodejs 20.19.2, ruby3.3 3.3.8, bundler 2.6.7, node-corepack 0.24.0.
DEBIAN_13 = {"release": "v4.6.5", "node_source": "debian", "node_version": "v20.19.2",
             "ruby_source": "debian", "ruby_version": "3.3.8",
             "bundler_version": "Bundler version 2.6.7", "corepack_version": "0.24.0"}
# Upstream's way: NodeSource node_24.x and rbenv at .ruby-version.
UPSTREAM_WAY = {"release": "v4.6.5", "node_source": "nodesource", "node_version": "v24.11.1",
                "ruby_source": "rbenv", "ruby_version": "4.0.5", "ruby_version_set": "",
                "bundler_version": "", "corepack_version": "0.34.0"}


def test_upstream_465_requirements_are_read():
    assert toolchain.mastodon_release_requirements(V465) == {
        "ruby_version": "4.0.5", "ruby_requirements": [">= 3.3.0", "< 4.1.0"],
        "node_range": ">=22", "package_manager": {"name": "yarn", "version": "4.16.0"},
        "bundled_with": "4.0.13", "problems": []}


def test_upstream_4515_requirements_are_read():
    read = toolchain.mastodon_release_requirements(V4515)
    assert (read["ruby_version"], read["ruby_requirements"], read["node_range"],
            read["bundled_with"]) == ("3.4.7", [">= 3.2.0", "< 3.5.0"], ">=20", "2.7.2")


def test_upstream_way_satisfies_465():
    requirements = toolchain.mastodon_release_requirements(V465)
    assert toolchain.mastodon_toolchain_problems(requirements, UPSTREAM_WAY) == []


def test_debian_13_node_is_refused_for_465_but_not_its_bundler():
    # Bundler 2.6.7 on a lock BUNDLED WITH 4.0.13 installs 4.0.13 and restarts with it
    # (Bundler::SelfManager#restart_with_locked_bundler_if_needed), so only Node fails.
    requirements = toolchain.mastodon_release_requirements(V465)
    problems = toolchain.mastodon_toolchain_problems(requirements, DEBIAN_13)
    assert len(problems) == 1, problems
    [node] = problems
    assert node.startswith("mastodon_node_source:")
    assert ">=22" in node and "20.19.2" in node and "nodesource" in node


def test_a_debian_ruby_without_bundler_is_refused():
    requirements = toolchain.mastodon_release_requirements(V465)
    problems = toolchain.mastodon_toolchain_problems(
        requirements, {**DEBIAN_13, "node_version": "v22.12.0", "bundler_version": ""})
    assert [p for p in problems if "no bundler" in p], problems


def test_debian_13_satisfies_4515():
    # Node 20.19.2 >= 20 and Ruby 3.3.8 within >= 3.2.0, < 3.5.0; Bundler 2.6.7 and the
    # lock's 2.7.2 share a major (Bundler fetches 2.7.2 itself, or goes on with 2.6.7).
    requirements = toolchain.mastodon_release_requirements(V4515)
    assert toolchain.mastodon_toolchain_problems(
        requirements, {**DEBIAN_13, "release": "v4.5.15"}) == []


def test_debian_12_ruby_is_refused_naming_the_source():
    # Debian 12: ruby3.1 3.1.2 is below 4.6.5's `>= 3.3.0`; nodejs 18 below `>=22`.
    requirements = toolchain.mastodon_release_requirements(V465)
    problems = toolchain.mastodon_toolchain_problems(requirements, {
        **DEBIAN_13, "node_version": "v18.20.4", "ruby_version": "3.1.2",
        "bundler_version": "2.3.15", "corepack_version": ""})
    ruby = [p for p in problems if "Debian's Ruby 3.1.2" in p]
    assert ruby and ruby[0].startswith("mastodon_ruby_source:") and ">= 3.3.0, < 4.1.0" in ruby[0]
    # Debian 12's nodejs comes without corepack (no node-corepack package).
    assert any("corepack" in p and "yarn@4.16.0" in p for p in problems), problems


def test_an_operator_ruby_version_outside_the_gemfile_names_mastodon_ruby_version():
    requirements = toolchain.mastodon_release_requirements(V465)
    problems = toolchain.mastodon_toolchain_problems(requirements, {
        **UPSTREAM_WAY, "ruby_version": "4.1.0", "ruby_version_set": "4.1.0"})
    assert len(problems) == 1 and problems[0].startswith("mastodon_ruby_version:"), problems
    assert "4.0.5" in problems[0]  # the fix: the release's own .ruby-version


def test_rbenv_without_a_ruby_version_is_refused():
    requirements = toolchain.mastodon_release_requirements({**V465, ".ruby-version": None})
    problems = toolchain.mastodon_toolchain_problems(requirements,
                                                     {**UPSTREAM_WAY, "ruby_version": ""})
    assert problems and problems[0].startswith("mastodon_ruby_version:")


def test_rbenv_bundler_is_not_checked():
    # rbenv's Ruby carries its own Bundler, which switches to the locked one (upstream's way).
    requirements = toolchain.mastodon_release_requirements(V465)
    assert toolchain.mastodon_toolchain_problems(
        requirements, {**UPSTREAM_WAY, "bundler_version": "2.6.7"}) == []


def test_a_node_source_repo_too_old_names_the_repo_variable():
    requirements = toolchain.mastodon_release_requirements(V465)
    problems = toolchain.mastodon_toolchain_problems(requirements,
                                                     {**UPSTREAM_WAY, "node_version": "v20.11.0"})
    assert len(problems) == 1 and "mastodon_nodesource_repo_url" in problems[0]


def test_a_binary_node_release_too_old_names_the_version_variable():
    requirements = toolchain.mastodon_release_requirements(V465)
    binary = {**UPSTREAM_WAY, "node_source": "binary"}
    assert toolchain.mastodon_toolchain_problems(
        requirements, {**binary, "node_version": "24.17.0"}) == []
    problems = toolchain.mastodon_toolchain_problems(requirements,
                                                     {**binary, "node_version": "20.19.0"})
    assert len(problems) == 1 and "set mastodon_node_version" in problems[0]


def test_unreadable_constraints_are_problems_not_guesses():
    broken = {**V465, "package.json": json.dumps({"engines": {"node": ">=22.0.0-rc.1"}}),
              "Gemfile": "ruby '>= three'\n"}
    requirements = toolchain.mastodon_release_requirements(broken)
    assert len(requirements["problems"]) == 2, requirements
    problems = toolchain.mastodon_toolchain_problems(requirements, UPSTREAM_WAY)
    assert problems and all(p.startswith("mastodon_version:") for p in problems[:2])


def test_a_package_manager_other_than_yarn_is_refused():
    requirements = toolchain.mastodon_release_requirements(
        {**V465, "package.json": json.dumps({"packageManager": "pnpm@9.0.0"})})
    problems = toolchain.mastodon_toolchain_problems(requirements, UPSTREAM_WAY)
    assert len(problems) == 1 and "pnpm" in problems[0]


def test_package_manager_hash_suffix_is_read():
    # corepack accepts name@version+sha512.<hex> (its packageManager format).
    requirements = toolchain.mastodon_release_requirements(
        {"package.json": json.dumps({"packageManager": "yarn@4.16.0+sha512.abc123"})})
    assert requirements["package_manager"] == {"name": "yarn", "version": "4.16.0"}


def test_gemfile_ruby_file_option_means_the_ruby_version_file():
    # Bundler's DSL: `ruby file: ".ruby-version"` requires exactly that version.
    requirements = toolchain.mastodon_release_requirements(
        {".ruby-version": "ruby-3.4.7\n", "Gemfile": 'ruby file: ".ruby-version"\n'})
    assert requirements["ruby_version"] == "3.4.7"  # rbenv drops the `ruby-` prefix
    assert requirements["ruby_requirements"] == ["3.4.7"]


# Gem::Requirement semantics (RubyGems' documented operators; `~>` is the
# "pessimistic" operator: >= the version, < the version with its last part dropped
# and the one before it increased).
@pytest.mark.parametrize(("version", "requirements", "expected"), [
    ("3.3.8", [">= 3.3.0", "< 4.1.0"], True),
    ("4.1.0", [">= 3.3.0", "< 4.1.0"], False),
    ("4.0.99", [">= 3.3", "< 4.1"], True),
    ("3.2.9", [">= 3.3.0"], False),
    ("3.3", ["= 3.3.0"], True),
    ("3.3.0", ["3.3.0"], True),
    ("3.3.1", ["!= 3.3.1"], False),
    ("3.3.9", ["~> 3.3.0"], True),
    ("3.4.0", ["~> 3.3.0"], False),
    ("3.9.0", ["~> 3.3"], True),
    ("4.0.0", ["~> 3.3"], False),
    ("4.0.0.preview1", [">= 4.0.0"], False),
    ("4.0.0.preview1", ["> 3.4"], True),
    ("3.3.0", ["> 3.3.0"], False),
    ("3.3.0", ["<= 3.3"], True),
])
def test_gem_requirements(version, requirements, expected):
    assert toolchain.gem_satisfies(version, requirements) is expected


# node-semver semantics (npm's range grammar: x-ranges, ~, ^, hyphen ranges, ||).
@pytest.mark.parametrize(("version", "range_text", "expected"), [
    ("v20.19.2", ">=22", False),
    ("v22.0.0", ">=22", True),
    ("24.17.0", ">=22", True),
    ("20.19.2", ">=20", True),
    ("18.20.4", ">=20", False),
    ("22.3.0", "^22.1.0", True),
    ("23.0.0", "^22.1.0", False),
    ("0.2.9", "^0.2.3", True),
    ("0.3.0", "^0.2.3", False),
    ("22.1.9", "~22.1.0", True),
    ("22.2.0", "~22.1", False),
    ("22.9.0", "~22", True),
    ("22.5.0", "22.x", True),
    ("23.0.0", "22", False),
    ("24.1.0", "^20.19.0 || >=22.12.0", True),
    ("21.0.0", "^20.19.0 || >=22.12.0", False),
    ("20.19.2", ">= 20.9 < 23", True),
    ("23.0.0", ">=20.9 <23", False),
    ("22.9.9", "20 - 22", True),
    ("23.0.0", "20 - 22", False),
    ("22.0.1", "20.0.0 - 22.0.0", False),
    ("21.0.0", ">20", True),
    ("20.9.0", ">20", False),
    ("20.9.0", "<=20", True),
    ("21.0.0", "<=20.9", False),
    ("1.0.0", "*", True),
    ("1.0.0", "", True),
])
def test_semver_ranges(version, range_text, expected):
    assert toolchain.semver_satisfies(version, range_text) is expected


@pytest.mark.parametrize("release", ["v4.6.5", "v4.5.15"])
def test_standin_releases_declare_what_upstream_declares(release):
    """The stand-in's releases state upstream's own requirements (same files, fields
    and values), so the role's checks meet on the stand-in what they meet on real
    Mastodon."""
    files = {name: (STANDIN / release / name).read_text()
             for name in (".ruby-version", "Gemfile", "package.json", "Gemfile.lock")}
    read = toolchain.mastodon_release_requirements(files)
    upstream = toolchain.mastodon_release_requirements(V465 if release == "v4.6.5" else V4515)
    assert read == upstream

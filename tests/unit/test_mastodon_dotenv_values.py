"""`.env.production` values survive both of upstream's loaders: Rails (Ruby dotenv 3.2)
and streaming (Node dotenv 17) read back exactly the inventory's value, or the
preflight refuses it naming the variable.

Expected values are the inventory's own strings; the parsers are the loaders
(tests/unit/dotenvparsers.py says which are real and which re-implemented: the
streaming side is npm's dotenv itself; the Rails side is the stand-in's
re-implementation, checked against the real library by test_standin_dotenv_parsers.py
when it is present)."""

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from dotenvparsers import node_dotenv, rails_reimplementation, ruby_dotenv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "roles/mastodon/filter_plugins/mastodon_dotenv.py"
spec = importlib.util.spec_from_file_location("mastodon_dotenv", PLUGIN)
filters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(filters)
TEMPLATE = REPO / "roles/mastodon/templates/home/mastodon/live/.env.production.j2"
PREFLIGHT = REPO / "roles/mastodon/tasks/preflight.yml"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    server = node_dotenv(tmp_path_factory.mktemp("standin"))
    if server is None:
        pytest.fail("node is missing: tools/setup.sh installs Debian's nodejs")
    yield server
    server.close()


@pytest.fixture(scope="module")
def ruby():
    server = ruby_dotenv()
    if server is None:
        pytest.skip("HERD_DOTENV_RUBY_LIB does not name dotenv 3.2.0's lib folder")
    yield server
    server.close()


def env_file(values):
    """A file shaped like the template's: comments, blank lines, one KEY=value each."""
    lines = ["# Managed by herd", ""]
    for index, value in enumerate(values):
        lines += [f"# value {index}", f"VALUE_{index}={filters.mastodon_dotenv(value)}", ""]
    return "\n".join(lines)


def expected(values):
    return {f"VALUE_{index}": value for index, value in enumerate(values)}


SECRETS = [
    "pa#ss",                 # unquoted: both loaders cut at #
    "pa$HOME",               # unquoted/double-quoted: Rails expands $HOME
    "pa$(id)ss",             # Rails runs the command
    "back\\slash",           # Rails drops the backslash
    "a \\ inside",           # single quotes keep it for both
    "it's",
    "it's \"quoted\"",
    "  spaced  ",
    "`ticks`",               # Node strips backticks around a value
    "\U0001F418 \u00e9",
    "",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_rails_reads_back_the_secret(secret):
    assert rails_reimplementation(env_file([secret])) == expected([secret])


@pytest.mark.parametrize("secret", SECRETS)
def test_streaming_reads_back_the_secret(node, secret):
    assert node.ask(env_file([secret])) == expected([secret])


@pytest.mark.parametrize("secret", SECRETS)
def test_real_ruby_dotenv_reads_back_the_secret(ruby, secret):
    assert ruby.ask(env_file([secret])) == expected([secret])


@pytest.mark.parametrize(("value", "reason"), [
    ("it's $5", "single quote"),
    ("it's a \\", "single quote"),
    ("ends in \\", "ends with a backslash"),  # `\'` would swallow the next line
    ("line\nbreak", "line break"),
    ("carriage\rreturn", "carriage return"),
    ("nul\x00", "NUL"),
    (["a"], "list"),
])
def test_values_no_line_carries_are_refused(value, reason):
    assert reason in filters.mastodon_dotenv_refusal(value)
    with pytest.raises(ValueError, match="mastodon_db_password: the value"):
        filters.mastodon_dotenv(value, "mastodon_db_password")


def test_plain_values_are_written_as_before():
    """Host names, ports and generated hex secrets keep their bare form."""
    for value in ("social.example.coop", 5432, "0123abcdef", "/var/run/postgresql"):
        assert filters.mastodon_dotenv(value) == str(value)
    assert filters.mastodon_dotenv(True) == "true"


def test_every_inventory_value_in_the_template_is_quoted_and_preflighted():
    template = TEMPLATE.read_text()
    bare = re.findall(r"=\{\{ (mastodon_[a-z0-9_]+) \}\}", template)
    assert bare == [], f"written without mastodon_dotenv: {bare}"
    quoted = set(re.findall(r"mastodon_dotenv\('(mastodon_[a-z0-9_]+)'\)", template))
    quoted |= set(re.findall(r"'[A-Z0-9_]+': '(mastodon_[a-z0-9_]+)'", template))
    [task] = [task for task in yaml.safe_load(PREFLIGHT.read_text())
              if "__mastodon_dotenv_variables" in task.get("vars", {})]
    assert quoted == set(task["vars"]["__mastodon_dotenv_variables"])


ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
# Weighted towards what the parsers treat specially.
TRICKY = st.text(st.sampled_from(list("'\"`#$\\{}() \t=aZ\U0001F418\u00a0\u2028\ufeff")),
                 max_size=12)


def _check(values, *loaders):
    writable = [value for value in values if not filters.mastodon_dotenv_refusal(value)]
    for value in values:
        if filters.mastodon_dotenv_refusal(value):
            # Refused only when some character forces it: a line break or NUL, or
            # what rules out single quotes (a ' or a final \) together with what rules
            # out double quotes (a ", \ or $).
            assert any(c in value for c in "\n\r\x00") or (
                ("'" in value or value.endswith("\\")) and any(c in value for c in '"\\$'))
    text = env_file(writable)
    for loader in loaders:
        assert loader(text) == expected(writable)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(ANY_TEXT, TRICKY), max_size=4))
def test_any_text_round_trips_through_rails_or_is_refused(values):
    _check(values, rails_reimplementation)


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(ANY_TEXT, TRICKY), max_size=4))
def test_any_text_round_trips_through_streaming_or_is_refused(node, values):
    _check(values, node.ask)

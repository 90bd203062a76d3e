"""The stand-in's two `.env.production` parsers behave as upstream's loaders.

- Rails side, lib/standin/env.py: Ruby dotenv 3.2.0 (upstream Gemfile.lock:215 at
  1440d55b). Expected values below follow dotenv's parser rules (lib/dotenv/parser.rb
  and substitutions/*.rb at v3.2.0) and were checked against that source under
  Debian's Ruby; with HERD_DOTENV_RUBY_LIB naming its lib folder, a property test
  compares the two on arbitrary files.
- Streaming side: npm's dotenv 17.4.2 itself (upstream streaming/package.json:21,
  yarn.lock:6950), the package the stand-in's streaming server loads. Expected values
  follow its parser rules (lib/main.js `LINE` and `parse` at v17.4.2); the role's
  values (tests/unit/test_mastodon_dotenv_values.py) are checked against the same
  package.
"""

import pytest
from dotenvparsers import node_dotenv, rails_reimplementation, ruby_dotenv
from dotenvparsers import standin_env as env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# (file text, Rails reads, streaming reads)
RULES = [
    ("A=ab#c\n", {"A": "ab"}, {"A": "ab"}),                      # unquoted ends at #
    ("A='a#b'\n", {"A": "a#b"}, {"A": "a#b"}),
    ("A=' $HOME \\x '\n", {"A": " $HOME \\x "}, {"A": " $HOME \\x "}),  # single: literal
    ('A="x\\ny"\n', {"A": "x\\ny"}, {"A": "x\ny"}),               # 3.2 keeps \n; Node breaks
    ("A=x\\\\y\\$z\n", {"A": "x\\y$z"}, {"A": "x\\\\y\\$z"}),       # Rails unescapes
    ("B=b\nA=$B-${B}-$NONE\n", {"B": "b", "A": "b-b-"}, {"B": "b", "A": "$B-${B}-$NONE"}),
    ("A=`x`\n", {"A": "`x`"}, {"A": "x"}),                       # only Node strips backticks
    ("A=  padded  \n", {"A": "padded"}, {"A": "padded"}),
    ("export A=1\n", {"A": "1"}, {"A": "1"}),
    ("A='multi\nline'\n", {"A": "multi\nline"}, {"A": "multi\nline"}),
    ("A='end\\'\nB='#x'\n", {"A": "end\\'\nB="}, {"A": "end\\'\nB="}),  # \' runs on
    ("A=\r\nB=2\r\n", {"A": "", "B": "2"}, {"A": "", "B": "2"}),
]


@pytest.mark.parametrize(("text", "rails", "streaming"), RULES)
def test_rails_side_follows_dotenv_3_2(text, rails, streaming):
    assert rails_reimplementation(text) == rails


@pytest.fixture(scope="module")
def standin_streaming(tmp_path_factory):
    server = node_dotenv(tmp_path_factory.mktemp("standin"))
    if server is None:
        pytest.fail("node is missing: tools/setup.sh installs Debian's nodejs")
    yield server
    server.close()


@pytest.mark.parametrize(("text", "rails", "streaming"), RULES)
def test_streaming_side_follows_node_dotenv_17(standin_streaming, text, rails, streaming):
    assert standin_streaming.ask(text) == streaming


def test_rails_side_runs_commands_and_keeps_escaped_ones():
    ran = []
    values = env.parse_dotenv("A=$(echo hi)-\\$(echo no)\n", environ={},
                              run=lambda cmd: ran.append(cmd) or "out")
    assert values == {"A": "out-$(echo no)"}
    assert ran == ["echo hi"]


def test_rails_side_keeps_the_process_environment():
    """dotenv's load does not overwrite a variable the process already has."""
    assert env.parse_dotenv("A=file\nB=$A\n", environ={"A": "process"}) == {
        "A": "process", "B": "process"}


def test_rails_side_refuses_an_export_of_an_unset_variable():
    with pytest.raises(env.DotenvFormatError, match="unset variable"):
        env.parse_dotenv("export NOPE\n", environ={})


@pytest.fixture(scope="module")
def real_ruby():
    server = ruby_dotenv()
    if server is None:
        pytest.skip("HERD_DOTENV_RUBY_LIB does not name dotenv 3.2.0's lib folder")
    yield server
    server.close()


LINES = st.lists(st.tuples(
    st.sampled_from(["A", "B", "export C", "D.E", "#", ""]),
    st.sampled_from(["=", " = ", ": ", "="]),
    st.text(st.one_of(st.sampled_from(list("'\"`#$\\{}() \t\r=aZ\n")),
                      st.characters(exclude_categories=["Cs"])), max_size=12)),
    max_size=5)


def _file(lines):
    # Commands aside: the real parser would run them.
    return "\n".join(f"{key}{sep}{value}" for key, sep, value in lines if "$(" not in value)


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(LINES)
def test_rails_side_agrees_with_real_dotenv_3_2(real_ruby, lines):
    text = _file(lines)
    try:
        ours = rails_reimplementation(text)
    except env.DotenvFormatError:
        ours = "FormatError"
    assert ours == real_ruby.ask(text)

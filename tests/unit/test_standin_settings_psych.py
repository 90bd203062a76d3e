"""The stand-in reads `settings.value` as upstream does, with Ruby's Psych
(app/models/setting.rb:100-106 at 1440d55b), so it refuses what upstream refuses."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "molecule/shared/standin/tree/lib"))
from standin import yamlish  # noqa: E402
from standin.env import ContractError  # noqa: E402


@pytest.mark.parametrize(("document", "value"), [
    ("--- Our coop\n", "Our coop"),
    ('--- "\\U0001F418 caf\\xE9"\n', "\U0001F418 caf\u00e9"),  # what Ruby's to_yaml writes
    ("--- \U0001F418\n", "\U0001F418"),
    ("--- |-\n  line one\n  line two\n", "line one\nline two"),
    ("--- 'yes'\n", "yes"),
    ("--- yes\n", True),                 # YAML 1.1 boolean, as Psych reads it
    ("--- open\n", "open"),
    ("--- :open\n", "open"),             # a Symbol (permitted by upstream)
    ("", None),                          # `present?`
])
def test_reads_what_psych_reads(document, value):
    assert yamlish.load(document) == value


@pytest.mark.parametrize("document", [
    '--- "Our coop \\ud83d\\udc18"\n',    # surrogate escapes (json.dumps): libyaml refuses
    '--- "rub\x7fout"\n',                # a raw DEL: libyaml refuses control characters
    "--- !ruby/object:OpenStruct {}\n",  # not a permitted class
])
def test_refuses_what_psych_refuses(document):
    with pytest.raises(ContractError):
        yamlish.load(document)


@pytest.mark.parametrize("value", ["Our coop", "\U0001F418", "yes", "a: b", True, 7, None])
def test_writes_ruby_to_yaml_and_reads_it_back(value):
    assert yamlish.load(yamlish.dump(value)) == value


def test_writes_what_ruby_writes():
    assert yamlish.dump("\U0001F418") == '--- "\\U0001F418"\n'
    assert yamlish.dump("open") == "--- open\n"

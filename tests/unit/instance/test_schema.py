"""The published order schema: a valid JSON Schema, whose domain rule is the roles' own
host-name rule (plugins/test/herd_tests.py) in its canonical lowercase form, and which
accepts the README's example order."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO / "scripts/herd/instance/order.schema.json").read_text())


def herd_hostname():
    spec = importlib.util.spec_from_file_location("herd_tests", REPO / "plugins/test/herd_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.hostname


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


SAMPLES = [
    "example.coop", "social.example.coop", "a.b", "xn--bcher-kva.example", "a-b.c-d.example",
    "Example.coop", "example.coop.", "example", "-a.example", "a-.example", "a..example",
    "*.example.coop", "https://example.coop", "example.coop:443", "user@example.coop",
    "10.0.0.1", "example.123", "example.c0m", "a_b.example", "", " example.coop",
    "a" * 63 + ".example", "a" * 64 + ".example", ".".join(["abcdefghi"] * 25) + ".example",
    "ex ample.coop", "exämple.coop",
]


@pytest.mark.parametrize("value", SAMPLES)
def test_a_domain_is_what_the_roles_call_a_host_name_in_lowercase(value):
    domain = jsonschema.Draft202012Validator(SCHEMA["$defs"]["domain"])
    assert domain.is_valid(value) == (herd_hostname()(value) and value == value.lower())


def test_the_readme_example_order_is_valid():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Hosting co-op"):]
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    order = yaml.safe_load(example)
    jsonschema.Draft202012Validator(SCHEMA).validate(order)
    plans = yaml.safe_load((REPO / "inventories/fleet/plans.yml").read_text())["plans"]
    machines = yaml.safe_load((REPO / "inventories/fleet/machines.yml").read_text())["machines"]
    assert order["plan"] in plans
    assert order["placement"]["host"] in machines

"""The mastodon role's plans for rules and settings as code: a re-run with the same
lists changes nothing, and a changed entry changes exactly that entry."""

import importlib.util
from pathlib import Path

import yaml

PLUGIN = Path(__file__).resolve().parents[2] / "roles/mastodon/filter_plugins/mastodon.py"
spec = importlib.util.spec_from_file_location("mastodon_filters", PLUGIN)
filters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(filters)

STORED = [
    {"id": 1, "text": "Be kind", "hint": "", "priority": 0},
    {"id": 2, "text": "No ads", "hint": "Ask first", "priority": 1},
    {"id": 3, "text": "No hate", "hint": "", "priority": 2},
]
WANTED = [{"text": "Be kind"}, {"text": "No ads", "hint": "Ask first"}, {"text": "No hate"}]


def test_same_rules_plan_nothing():
    assert filters.mastodon_rules_plan(STORED, WANTED) == []


def test_first_run_inserts_every_rule_in_order():
    plan = filters.mastodon_rules_plan({}, WANTED)
    assert [(step["op"], step["text"], step["priority"]) for step in plan] == [
        ("insert", "Be kind", 0), ("insert", "No ads", 1), ("insert", "No hate", 2)]


def test_edited_rule_updates_only_that_row():
    wanted = [WANTED[0], {"text": "No advertising", "hint": "Ask first"}, WANTED[2]]
    plan = filters.mastodon_rules_plan(STORED, wanted)
    assert plan == [{"op": "edit", "id": 2, "text": "No advertising", "hint": "Ask first",
                     "priority": 1}]


def test_edited_hint_is_an_edit_too():
    # Upstream's rule_translations rows (db/schema.rb:1079-1087 at 1440d55b) hold a text
    # AND a hint per language: a new hint makes the translated hint stale as well.
    wanted = [WANTED[0], {"text": "No ads", "hint": "Never"}, WANTED[2]]
    assert [step["op"] for step in filters.mastodon_rules_plan(STORED, wanted)] == ["edit"]


def test_only_an_edit_drops_translations_a_move_keeps_them():
    # Rule#translation_for (app/models/rule.rb, 1440d55b) serves a stored translation
    # as is; after an edit it would show the old text to users of that language, so
    # edits are marked to drop them (the rule's own text is served instead), while a
    # rule that only changes place keeps its translations, still true.
    wanted = [{"text": "Be nice"}, WANTED[2], WANTED[1]]
    plan = {step["id"]: step["op"] for step in filters.mastodon_rules_plan(STORED, wanted)}
    assert plan == {1: "edit", 3: "move", 2: "move"}


def test_dropped_rule_is_soft_deleted_and_the_rest_move_up():
    plan = filters.mastodon_rules_plan(STORED, [WANTED[0], WANTED[2]])
    assert {(step["op"], step["id"]) for step in plan} == {("move", 3), ("delete", 2)}
    assert next(step for step in plan if step["id"] == 3)["priority"] == 1


def test_reordering_keeps_rows_and_changes_priorities():
    plan = filters.mastodon_rules_plan(STORED, [WANTED[2], WANTED[0], WANTED[1]])
    assert {step["op"] for step in plan} == {"move"}
    assert {step["id"]: step["priority"] for step in plan} == {3: 0, 1: 1, 2: 2}


def test_settings_written_only_when_they_differ():
    rows = [{"var": "site_title", "value": "--- Our coop\n"},
            {"var": "site_short_description", "value": "--- Old\n"}]
    wanted = {"site_title": "Our coop", "site_short_description": "New",
              "site_terms": None}
    changes = filters.mastodon_settings_changes(rows, wanted)
    assert [change["var"] for change in changes] == ["site_short_description"]
    # Stored as YAML that Ruby's Psych reads back to the same string.
    assert yaml.safe_load(changes[0]["value"]) == "New"


def test_settings_unchanged_plan_nothing():
    rows = [{"var": "site_title", "value": "--- Our coop\n"}]
    assert filters.mastodon_settings_changes(rows, {"site_title": "Our coop"}) == []

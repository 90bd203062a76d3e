"""Plans for the role's "as code" tasks: pure functions from what the database
holds and what the inventory wants to the exact changes, so that a re-run with
the same lists changes nothing and a changed entry changes only that entry."""

import json

import yaml


def _rows(rows):
    """query_result of community.postgresql_query: a list, or {} when no row matched."""
    return rows if isinstance(rows, list) else []


def _ruby_yaml_load(text):
    """Value of a settings row: upstream stores YAML written by Ruby's Psych."""
    if text is None or text == "":
        return None
    # Ruby tags (e.g. !ruby/hash:ActiveSupport::HashWithIndifferentAccess) are not
    # used by the string settings this role manages; refuse anything else loudly.
    return yaml.safe_load(text)


def mastodon_settings_changes(rows, wanted):
    """[{var, value}] to write: wanted entries (not None) whose stored value differs.

    rows: [{var, value}] from the settings table; wanted: {var: value or None}.
    value is returned YAML-encoded the way Psych reads it back (a JSON string is
    valid YAML), ready for the settings.value column.
    """
    current = {row["var"]: _ruby_yaml_load(row["value"]) for row in _rows(rows)}
    changes = []
    for var, value in sorted(wanted.items()):
        if value is None:
            continue
        if var not in current or current[var] != value:
            changes.append({"var": var, "value": "--- " + json.dumps(value) + "\n"})
    return changes


def mastodon_setting_value(rows, var):
    """Decoded value of one settings row, None when absent."""
    for row in _rows(rows):
        if row["var"] == var:
            return _ruby_yaml_load(row["value"])
    return None


def mastodon_rules_plan(existing, wanted):
    """Exact changes turning the kept rules into the wanted list.

    existing: [{id, text, hint, priority}] rules not soft-deleted, in upstream's
    order (priority, id); wanted: [{text, hint?}] in the order to show.
    A wanted rule keeps the row of a rule with the same text; otherwise it takes
    over the row at its position (an edited rule keeps its id, like an edit in
    the admin UI); what is left is inserted, and rows left over are soft-deleted.
    A kept row whose text or hint changes is an `edit`: its rule_translations (text and
    hint per language) were written for the old wording and are dropped, so users of
    those languages get the new text rather than the old one (Rule#translation_for falls
    back to the rule itself). A row that only changes priority is a `move` and keeps them.
    Returns [{op: edit|move|insert|delete, id?, text, hint, priority}].
    """
    existing = _rows(existing)
    wanted = [{"text": w["text"], "hint": w.get("hint") or ""} for w in wanted]
    taken = {}  # wanted index -> existing row
    free = list(existing)
    for index, rule in enumerate(wanted):
        for row in free:
            if row["text"] == rule["text"]:
                taken[index] = row
                free.remove(row)
                break
    by_position = {pos: row for pos, row in enumerate(existing)}
    for index in range(len(wanted)):
        if index not in taken and by_position.get(index) in free:
            taken[index] = by_position[index]
            free.remove(by_position[index])

    plan = []
    for index, rule in enumerate(wanted):
        row = taken.get(index)
        if row is None:
            plan.append({"op": "insert", "text": rule["text"], "hint": rule["hint"],
                         "priority": index})
        elif (row["text"], row["hint"] or "") != (rule["text"], rule["hint"]):
            plan.append({"op": "edit", "id": row["id"], "text": rule["text"],
                         "hint": rule["hint"], "priority": index})
        elif row["priority"] != index:
            plan.append({"op": "move", "id": row["id"], "text": rule["text"],
                         "hint": rule["hint"], "priority": index})
    for row in free:
        plan.append({"op": "delete", "id": row["id"], "text": row["text"],
                     "hint": row["hint"] or "", "priority": row["priority"]})
    return plan


def mastodon_tootctl_list(stdout):
    """Top-level entries of a tootctl list (children are indented below them)."""
    return [line.strip() for line in stdout.splitlines() if line.strip() and not line[0].isspace()]


def mastodon_units(processes):
    """The systemd units the role runs, by kind, from its process inputs.

    processes: {web: bool, streaming: bool, sidekiq: bool, streaming_ports: [int],
    sidekiq_names: [str], exporter: bool}. Names follow upstream's dist/ units: a Sidekiq
    process named "" is upstream's mastodon-sidekiq.service, NAME gives
    mastodon-sidekiq-NAME.service; streaming runs one mastodon-streaming@PORT per port.
    """
    units = {"web": [], "streaming": [], "sidekiq": [], "exporter": []}
    if processes.get("web"):
        units["web"] = ["mastodon-web.service"]
    if processes.get("streaming"):
        units["streaming"] = [f"mastodon-streaming@{port}.service"
                              for port in processes.get("streaming_ports", [])]
    if processes.get("sidekiq"):
        units["sidekiq"] = [f"mastodon-sidekiq-{name}.service" if name
                            else "mastodon-sidekiq.service"
                            for name in processes.get("sidekiq_names", [])]
    if processes.get("exporter"):
        units["exporter"] = ["mastodon-prometheus-exporter.service"]
    return units


class FilterModule:
    def filters(self):
        return {
            "mastodon_settings_changes": mastodon_settings_changes,
            "mastodon_setting_value": mastodon_setting_value,
            "mastodon_rules_plan": mastodon_rules_plan,
            "mastodon_tootctl_list": mastodon_tootctl_list,
            "mastodon_units": mastodon_units,
        }

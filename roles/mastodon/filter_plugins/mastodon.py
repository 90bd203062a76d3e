"""Plans for the role's "as code" tasks: pure functions from what the database
holds and what the inventory wants to the exact changes, so that a re-run with
the same lists changes nothing and a changed entry changes only that entry."""

import yaml

# Escapes of a YAML double-quoted scalar for the characters libyaml refuses raw
# (C0 controls, DEL, C1 controls, the BOM and U+FFFE/U+FFFF: outside YAML 1.1's
# printable set) or would fold as line breaks (NEL, LS, PS). Psych reads them all
# (libyaml's scanner, yaml_parser_scan_flow_scalar); Ruby's own to_yaml writes the
# same escapes. Everything else is written as itself, characters above U+FFFF
# included: UTF-16 surrogate escapes (what json.dumps writes) are refused by Psych.
_YAML_NAMED_ESCAPES = {
    "\\": "\\\\", '"': '\\"', "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n",
    "\v": "\\v", "\f": "\\f", "\r": "\\r", "\x1b": "\\e", "\x85": "\\N",
    "\u2028": "\\L", "\u2029": "\\P",
}


def _yaml_escape(char):
    if char in _YAML_NAMED_ESCAPES:
        return _YAML_NAMED_ESCAPES[char]
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02X}"
    if code in (0xFEFF, 0xFFFE, 0xFFFF):
        return f"\\u{code:04X}"
    return char


def _kind(value):
    """What the inventory gave, in its words (Ansible passes tagged subclasses)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def mastodon_setting_refusal(value):
    """Why a setting value cannot be stored for upstream to read, or "" when it can.

    The preflight and the planner share this one rule: text only (Psych would hand
    Rails an Integer for `site_title: 2024`), no NUL (PostgreSQL's text type cannot
    hold U+0000) and no lone surrogate (no UTF-8 form; Psych refuses its escape).
    """
    if not isinstance(value, str):
        return f"is {_kind(value)}, not text; quote it in the inventory"
    for char in value:
        code = ord(char)
        if code == 0 or 0xD800 <= code <= 0xDFFF:
            return (f"contains U+{code:04X}, which PostgreSQL and Psych cannot store; "
                    "remove it")
    return ""


def mastodon_setting_yaml(value):
    """The settings.value text for a string: a one-document YAML stream that Psych
    reads back to exactly `value` (double-quoted, so no plain-scalar resolution
    turns "yes" into true or "1.0" into a Float)."""
    refusal = mastodon_setting_refusal(value)
    if refusal:
        raise ValueError(refusal)
    return '--- "' + "".join(_yaml_escape(char) for char in value) + '"\n'


def _rows(rows):
    """query_result of community.postgresql_query: a list, or {} when no row matched."""
    return rows if isinstance(rows, list) else []


_UNREADABLE = object()


def _ruby_yaml_load(text):
    """Value of a settings row: upstream stores YAML written by Ruby's Psych.

    PyYAML reads the scalars Psych writes (plain, quoted with Psych's escapes,
    block) the same way. A row it cannot read (a Ruby object tag, a broken escape)
    comes back as _UNREADABLE, which equals no wanted value: it gets rewritten.
    """
    if text is None or text == "":
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return _UNREADABLE


def _stored_equals(stored_text, value, wanted_text):
    if stored_text == wanted_text:
        return True
    decoded = _ruby_yaml_load(stored_text)
    return isinstance(decoded, str) and decoded == value


def mastodon_settings_changes(rows, wanted):
    """[{var, value}] to write: wanted entries (not None) whose stored value differs.

    rows: [{var, value}] from the settings table; wanted: {var: value or None}.
    value is returned as YAML that Psych reads back to the wanted text, ready for
    the settings.value column. A stored row counts as equal when it is that text,
    or any other YAML of the same string (what the admin UI writes through Rails).
    """
    current = {row["var"]: row["value"] for row in _rows(rows)}
    changes = []
    for var, value in sorted(wanted.items()):
        if value is None:
            continue
        refusal = mastodon_setting_refusal(value)
        if refusal:
            # The preflight refuses this first; a direct caller learns which var.
            raise ValueError(f"{var}: {refusal}")
        text = mastodon_setting_yaml(value)
        if var not in current or not _stored_equals(current[var], value, text):
            changes.append({"var": var, "value": text})
    return changes


def mastodon_setting_value(rows, var):
    """Decoded value of one settings row, None when absent or unreadable."""
    for row in _rows(rows):
        if row["var"] == var:
            value = _ruby_yaml_load(row["value"])
            return None if value is _UNREADABLE else value
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
            "mastodon_setting_refusal": mastodon_setting_refusal,
            "mastodon_setting_yaml": mastodon_setting_yaml,
            "mastodon_rules_plan": mastodon_rules_plan,
            "mastodon_tootctl_list": mastodon_tootctl_list,
            "mastodon_units": mastodon_units,
        }

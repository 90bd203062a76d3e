"""`herd instance order`: every check before any write; what it writes is what the roles
read, secrets only encrypted; the same order again changes nothing."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from instance_support import ORDER, PASSWORD, snapshot

REPO = Path(__file__).resolve().parents[3]


def role_inputs() -> set[str]:
    names: set[str] = set()
    for specs in REPO.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(specs.read_text())["argument_specs"].values():
            names |= set(entry.get("options") or {})
    return names


def ansible_reads(path: Path) -> dict:
    """The file as Ansible's own loader reads it (`!unsafe` included)."""
    return DataLoader().load_from_file(str(path))


def decrypted(path: Path) -> dict:
    vault = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
    return yaml.safe_load(vault.decrypt(path.read_bytes()))


def test_an_order_becomes_the_roles_inputs(herd, order_file, fleet):
    code, _, err = herd("order", str(order_file()))
    assert code == 0, err
    host_vars = ansible_reads(fleet / "host_vars/coop/main.yml")
    assert host_vars["ansible_host"] == "192.0.2.10"
    assert host_vars["herd_instance"] == "coop"
    assert host_vars["mastodon_local_domain"] == "coop.example.org"
    assert host_vars["mastodon_web_domain"] == "social.coop.example.org"
    assert host_vars["mastodon_registrations_mode"] == "approved"
    assert host_vars["mastodon_email_domain_allowlist"] == ORDER["email_domain_allowlist"]
    assert host_vars["mastodon_server_rules"] == ORDER["rules"]
    assert host_vars["mastodon_site_title"] == "The Co-op"
    assert host_vars["mastodon_site_short_description"] == "Our members' server."
    assert host_vars["mastodon_owner_username"] == "alice_admin"
    assert host_vars["mastodon_owner_email"] == "alice@coop.example.org"
    # The plan's role inputs, as plans.yml (conftest) states them.
    assert host_vars["mastodon_web_concurrency"] == 2
    assert host_vars["mastodon_max_threads"] == 5
    # Only the roles' own inputs, the topology's instance and the connection's address.
    assert set(host_vars) - role_inputs() == {"ansible_host", "herd_instance"}
    hosts = yaml.safe_load((fleet / "hosts.yml").read_text())["all"]["children"]
    for group in ("postgresql", "redis", "nginx"):
        assert list(hosts[group]["hosts"]) == ["coop"]
    for group in ("mastodon_web", "mastodon_streaming", "mastodon_sidekiq"):
        assert list(hosts["mastodon"]["children"][group]["hosts"]) == ["coop"]


def test_secrets_are_only_in_the_vault_file(herd, order_file, fleet):
    assert herd("order", str(order_file()))[0] == 0
    vault_file = fleet / "host_vars/coop/vault.yml"
    assert vault_file.read_bytes().startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    secrets = decrypted(vault_file)
    assert len(secrets["vault_postgresql_mastodon_password"]) >= 16
    assert len(secrets["vault_redis_password"]) >= 16
    assert len(secrets["vault_backup_encryption_key"]) == 44
    host_vars = ansible_reads(fleet / "host_vars/coop/main.yml")
    assert host_vars["postgresql_mastodon_password"] == "{{ vault_postgresql_mastodon_password }}"
    assert host_vars["redis_password"] == "{{ vault_redis_password }}"
    assert host_vars["backup_encryption_key"] == "{{ vault_backup_encryption_key }}"
    everything = b"".join(snapshot(fleet).values())
    for value in secrets.values():
        assert value.encode() not in everything
    assert not [path for path in fleet.rglob("*") if path.name.endswith(".tmp")]


def test_private_files_stay_private_whatever_the_umask(herd, order_file, fleet):
    previous = os.umask(0)
    try:
        assert herd("order", str(order_file()))[0] == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((fleet / "host_vars/coop/vault.yml").stat().st_mode) == 0o600
    assert stat.S_IMODE((fleet / "host_vars/coop").stat().st_mode) == 0o700


@pytest.mark.parametrize("suffix", [".yml", ".json"])
def test_the_same_order_again_changes_nothing(herd, order_file, fleet, suffix):
    path = order_file(suffix=suffix)
    assert herd("order", str(path))[0] == 0
    before = snapshot(fleet)
    times = {p: p.stat().st_mtime_ns for p in fleet.rglob("*") if p.is_file()}
    code, _, err = herd("order", str(path))
    assert code == 0, err
    assert snapshot(fleet) == before
    assert {p: p.stat().st_mtime_ns for p in fleet.rglob("*") if p.is_file()} == times
    assert "nothing changed" in err


def test_the_same_order_without_placement_keeps_its_machine(herd, order_file, fleet):
    assert herd("order", str(order_file()))[0] == 0
    before = snapshot(fleet)
    assert herd("order", str(order_file(placement=None)))[0] == 0
    assert snapshot(fleet) == before


def test_a_conflicting_order_is_refused_naming_what_differs(herd, order_file, fleet):
    assert herd("order", str(order_file()))[0] == 0
    before = snapshot(fleet)
    code, _, err = herd("order", str(order_file(registrations="open", rules=[])))
    assert code == 2
    assert "name: instance 'coop' already exists" in err
    assert "registrations" in err and "rules" in err
    assert snapshot(fleet) == before


@pytest.mark.parametrize(("changes", "field"), [
    ({"domain": "coop.example.org"}, "domain"),
    ({"domain": "social.coop.example.org"}, "domain"),
    ({"domain": "other.example.org", "web_domain": "coop.example.org"}, "web_domain"),
])
def test_a_domain_already_taken_is_refused(herd, order_file, fleet, changes, field):
    assert herd("order", str(order_file()))[0] == 0
    before = snapshot(fleet)
    code, _, err = herd("order", str(order_file(name="second", **changes)))
    assert code == 2
    assert f"{field}: " in err and "already taken by instance coop" in err
    assert snapshot(fleet) == before


def other(name: str, domain: str, **changes):
    return {"name": name, "domain": domain, "web_domain": None, **changes}


def test_a_full_machine_is_refused(herd, order_file, fleet):
    # small.example.net: 4000 MB; the community plan takes 6000 (conftest).
    code, _, err = herd("order", str(order_file(placement={"host": "small.example.net"})))
    assert code == 2
    assert "placement.host: small.example.net is full" in err and "6000 MB" in err
    assert not (fleet / "hosts.yml").exists()


def test_a_machine_holds_at_most_max_instances(herd, order_file, fleet):
    # small.example.net has room for 4 tiny plans by memory, but holds one instance.
    tiny = {"plan": "tiny", "placement": {"host": "small.example.net"}}
    assert herd("order", str(order_file(**other("one", "one.example.org", **tiny))))[0] == 0
    code, _, err = herd("order", str(order_file(**other("two", "two.example.org", **tiny))))
    assert code == 2
    assert "placement.host: small.example.net is full" in err and "max_instances" in err


def test_without_placement_the_first_machine_with_room_is_taken(herd, order_file, fleet):
    # big.example.net (16000 MB) holds two community plans (6000 MB each), not three.
    for index in (1, 2):
        assert herd("order", str(order_file(**other(f"c{index}", f"c{index}.example.org",
                                                     placement=None))))[0] == 0
    assert json.loads((fleet / "orders/c2.json").read_text())["placement"] == {
        "host": "big.example.net"}
    code, _, err = herd("order", str(order_file(**other("c3", "c3.example.org",
                                                        placement=None))))
    assert code == 2 and "placement: no machine has room for plan community" in err
    code, _, err = herd("order", str(order_file(**other("t1", "t1.example.org", plan="tiny",
                                                        placement=None))))
    assert code == 0, err
    assert json.loads((fleet / "orders/t1.json").read_text())["placement"] == {
        "host": "big.example.net"}


@pytest.mark.parametrize(("changes", "needles"), [
    ({"plan": "gold"}, ["plan: 'gold' is not one of community, tiny"]),
    ({"placement": {"host": "nowhere"}}, ["placement.host: 'nowhere' is not one of"]),
    ({"domain": "Coop.Example.org"}, ["domain:", "write 'coop.example.org'"]),
    ({"domain": "coop.example.org."}, ["domain:", "write 'coop.example.org'"]),
    ({"domain": "https://coop.example.org"}, ["domain:", "lowercase host name"]),
    ({"domain": "coop"}, ["domain:"]),
    ({"domain": "10.0.0.1"}, ["domain:"]),
    ({"web_domain": "*.coop.example.org"}, ["web_domain:"]),
    ({"email_domain_allowlist": ["ok.example.org", "Bad.Example.org"]},
     ["email_domain_allowlist[1]:", "write 'bad.example.org'"]),
    ({"name": "../../etc"}, ["name:"]),
    ({"name": "a/b"}, ["name:"]),
    ({"name": "localhost"}, ["name:", "reserved"]),
    ({"registrations": False}, ["registrations:", "quote the value"]),
    ({"registrations": "sometimes"}, ["registrations: 'sometimes' is not one of open"]),
    ({"admin": {"username": "alice admin", "email": "a@example.org"}}, ["admin.username:"]),
    ({"admin": {"username": "alice", "email": "{{ x }}@example.org"}}, ["admin.email:"]),
    ({"admin": {"username": "alice"}}, ["admin.email:", "required"]),
    ({"domain": None}, ["domain:", "required"]),
    ({"rules": [{"text": "x" * 301}]}, ["rules[0].text: 301 characters is more than 300"]),
    ({"rules": [{"text": "   "}]}, ["rules[0].text:"]),
    ({"site": {"short_description": "é" * 201}}, ["site.short_description: 201 characters"]),
    ({"site": {"title": 2024}}, ["site.title: 2024 is not of type 'string'"]),
    ({"site": {"title": "nul \x00 inside"}}, ["site.title: the value contains U+0000"]),
    ({"colour": "blue"}, ["colour"]),
])
def test_bad_orders_are_refused_naming_the_field(herd, order_file, fleet, changes, needles):
    before = snapshot(fleet)
    code, _, err = herd("order", str(order_file(**changes)))
    assert code == 2
    for needle in needles:
        assert needle in err, err
    assert "Traceback" not in err
    assert snapshot(fleet) == before


def test_every_problem_is_named_at_once(herd, order_file):
    code, _, err = herd("order", str(order_file(domain="Bad..", plan="gold")))
    assert code == 2 and "domain:" in err and "plan:" in err


def test_texts_reach_the_roles_exactly_as_ordered(herd, order_file, fleet):
    texts = {
        "title": "Co-op 🐘 #1 — \"members\" only",
        "short_description": "It's $5/month; ${HOME} $(id) `id` # not a comment",
        "extended_description": "Line one\nLine two\n\n  indented: yes\n- not a list",
        "privacy_policy": "{{ lookup('pipe', 'id') }} {% raw %} stays text",
    }
    rules = [{"text": "No #hashtag spam, no $$$ schemes 💸", "hint": "'single' \"double\"\n2"}]
    assert herd("order", str(order_file(site=texts, rules=rules)))[0] == 0
    host_vars = ansible_reads(fleet / "host_vars/coop/main.yml")
    for key, value in texts.items():
        assert host_vars[f"mastodon_site_{key}"] == value
    assert host_vars["mastodon_server_rules"] == rules


def test_a_symlink_where_the_inventory_goes_is_refused(herd, order_file, fleet, tmp_path):
    elsewhere = tmp_path / "elsewhere.yml"
    elsewhere.write_text("keep me\n")
    (fleet / "hosts.yml").symlink_to(elsewhere)
    code, _, err = herd("order", str(order_file()))
    assert code == 2 and "hosts.yml: is a symbolic link" in err
    assert elsewhere.read_text() == "keep me\n"
    assert not (fleet / "host_vars").exists()


def test_a_symlinked_host_vars_directory_is_refused(herd, order_file, fleet, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (fleet / "host_vars").mkdir()
    (fleet / "host_vars/coop").symlink_to(outside)
    code, _, err = herd("order", str(order_file()))
    assert code == 2 and "host_vars/coop: is a symbolic link" in err
    assert list(outside.iterdir()) == []


def test_secrets_are_never_regenerated(herd, order_file, fleet):
    assert herd("order", str(order_file()))[0] == 0
    first = decrypted(fleet / "host_vars/coop/vault.yml")
    # A second instance rewrites hosts.yml; coop's vault file is left alone.
    assert herd("order", str(order_file(**other("two", "two.example.org"))))[0] == 0
    assert decrypted(fleet / "host_vars/coop/vault.yml") == first
    assert decrypted(fleet / "host_vars/two/vault.yml") != first


def test_a_wrong_vault_password_is_refused_before_any_write(herd, order_file, fleet,
                                                            password_file):
    assert herd("order", str(order_file()))[0] == 0
    before = snapshot(fleet)
    password_file.write_text("another password\n")
    code, _, err = herd("order", str(order_file()))
    assert code == 2 and "cannot be decrypted with this vault password" in err
    assert snapshot(fleet) == before


def test_a_plan_may_set_only_the_roles_inputs(herd, order_file, fleet):
    plans = yaml.safe_load((fleet / "plans.yml").read_text())
    plans["plans"]["community"]["variables"]["mastodon_workers"] = 3
    (fleet / "plans.yml").write_text(yaml.safe_dump(plans))
    code, _, err = herd("order", str(order_file()))
    assert code == 2 and "plans.community.variables: mastodon_workers" in err


def test_the_shipped_plans_and_machines_load():
    from herd.instance.fleet import Fleet

    shipped = Fleet(REPO / "inventories/fleet")
    assert shipped.plans() and shipped.machines()
    for plan in shipped.plans().values():
        assert set(plan.variables) <= role_inputs()


def test_an_order_waits_for_no_one_while_another_writes(herd, order_file, fleet):
    import fcntl

    descriptor = os.open(fleet, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        before = snapshot(fleet)
        code, _, err = herd("order", str(order_file()))
    finally:
        os.close(descriptor)
    assert code == 7 and "another herd instance command is writing" in err
    assert snapshot(fleet) == before

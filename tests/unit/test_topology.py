"""The topology a user's inventory describes: who proxies to whom, who reaches the data
tier on which address, and which layouts are refused. Expectations are written from
the shipped inventories (inventories/production/hosts.yml) and upstream's units, not
computed with the code under test."""

import importlib.util
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins/filter/herd_topology.py"
spec = importlib.util.spec_from_file_location("herd_topology", PLUGIN)
topo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(topo)


def load_inventory(name: str) -> tuple[dict, dict]:
    """(hostvars, groups) of a shipped inventory, the way Ansible flattens hosts.yml and
    its group_vars (all, then each group), enough for these tests."""
    base = REPO / "inventories" / name
    tree = yaml.safe_load((base / "hosts.yml").read_text())
    groups: dict[str, list[str]] = {}
    host_vars: dict[str, dict] = {}

    def walk(name: str, node: dict, parents: list[str]) -> None:
        for host, values in (node.get("hosts") or {}).items():
            host_vars.setdefault(host, {}).update(values or {})
            for group in [*parents, name]:
                groups.setdefault(group, [])
                if host not in groups[group]:
                    groups[group].append(host)
        for child, sub in (node.get("children") or {}).items():
            walk(child, sub or {}, [*parents, name])

    walk("all", tree["all"], [])
    merged = {}
    for host, own in host_vars.items():
        values: dict = {}
        for group in ["all"] + [g for g in groups if g != "all" and host in groups[g]]:
            for path in sorted((base / "group_vars" / group).glob("*.yml")):
                values.update(yaml.safe_load(path.read_text()) or {})
        values.update(own)
        merged[host] = values
    return merged, groups


@pytest.fixture
def production():
    return load_inventory("production")


def test_each_nginx_proxies_to_every_puma_on_its_private_address(production):
    hostvars, groups = production
    facts = topo.topology(hostvars, groups, "web1.example.coop")
    assert facts["web_upstreams"] == ["10.0.0.21:3000", "10.0.0.22:3000"]


def test_each_nginx_proxies_to_both_streaming_instances_of_both_hosts(production):
    # inventories/production sets mastodon_streaming_instances: 2; upstream's first port 4000.
    hostvars, groups = production
    facts = topo.topology(hostvars, groups, "web2.example.coop")
    assert facts["streaming_upstreams"] == [
        "10.0.0.21:4000", "10.0.0.21:4001", "10.0.0.22:4000", "10.0.0.22:4001"]


def test_puma_binds_the_private_address_when_another_host_proxies(production):
    hostvars, groups = production
    assert topo.topology(hostvars, groups, "web1.example.coop")["bind"] == "10.0.0.21"
    # The worker serves no HTTP: it stays on loopback.
    assert topo.topology(hostvars, groups, "worker1.example.coop")["bind"] == "127.0.0.1"


def test_app_hosts_reach_the_database_host_on_its_private_address(production):
    hostvars, groups = production
    facts = topo.topology(hostvars, groups, "worker1.example.coop")
    assert facts["database"]["host"] == "10.0.0.10"
    assert facts["database"]["port"] == 5432
    assert facts["redis"]["host"] == "10.0.0.10"


def test_only_the_app_hosts_may_reach_the_data_tier(production):
    hostvars, groups = production
    facts = topo.topology(hostvars, groups, "db1.example.coop")
    app_hosts = ["10.0.0.21", "10.0.0.22", "10.0.0.31"]
    assert sorted(facts["postgresql_clients"]) == app_hosts
    assert sorted(facts["redis_clients"]) == app_hosts


def test_pruning_runs_on_exactly_one_host(production):
    hostvars, groups = production
    runners = [host for host in hostvars if topo.topology(hostvars, groups, host)["runs_pruning"]]
    assert runners == ["worker1.example.coop"]


def test_the_shipped_production_layout_has_no_problem(production):
    hostvars, groups = production
    assert topo.problems(hostvars, groups) == []


def test_all_in_one_uses_loopback_and_the_local_socket():
    hostvars, groups = load_inventory("local")
    facts = topo.topology(hostvars, groups, "herd-local")
    assert facts["web_upstreams"] == ["127.0.0.1:3000"]
    assert facts["streaming_upstreams"] == ["127.0.0.1:4000"]
    assert facts["database"]["host"] == "/var/run/postgresql"
    assert facts["redis"]["host"] == "127.0.0.1"
    assert facts["postgresql_clients"] == []
    assert topo.problems(hostvars, groups) == []


def test_two_web_hosts_with_local_uploads_are_refused(production):
    hostvars, groups = production
    for host in hostvars:
        hostvars[host]["mastodon_s3_enabled"] = False
    found = " ".join(topo.problems(hostvars, groups))
    assert "mastodon_s3_enabled" in found and "web1.example.coop, web2.example.coop" in found


def test_a_database_that_does_not_listen_on_its_private_address_is_refused(production):
    hostvars, groups = production
    hostvars["db1.example.coop"]["postgresql_listen_addresses"] = ["localhost"]
    found = " ".join(topo.problems(hostvars, groups))
    assert "postgresql_listen_addresses: db1.example.coop must listen on 10.0.0.10" in found


def test_a_host_others_reach_without_a_private_address_is_refused(production):
    hostvars, groups = production
    del hostvars["db1.example.coop"]["herd_private_address"]
    found = " ".join(topo.problems(hostvars, groups))
    assert "herd_private_address: db1.example.coop" in found


def test_two_sidekiq_hosts_running_the_scheduler_are_refused(production):
    hostvars, groups = production
    hostvars["worker2.example.coop"] = {**hostvars["worker1.example.coop"],
                                        "herd_private_address": "10.0.0.32"}
    groups["mastodon_sidekiq"].append("worker2.example.coop")
    found = " ".join(topo.problems(hostvars, groups))
    assert "mastodon_sidekiq_processes: 2 Sidekiq processes" in found


def test_an_nginx_host_without_the_release_is_refused(production):
    hostvars, groups = production
    hostvars["lb1.example.coop"] = {**hostvars["web1.example.coop"],
                                    "herd_private_address": "10.0.0.5"}
    groups["nginx"].append("lb1.example.coop")
    found = " ".join(topo.problems(hostvars, groups))
    assert "mastodon_web: nginx on lb1.example.coop" in found


def test_ruby_path_matches_the_mastodon_roles_ruby_sources():
    # Debian's ruby and bundle live in /usr/bin; rbenv's shims under the user's home.
    assert topo.ruby_path("debian", "/home/mastodon").split(":")[0] == "/usr/local/bin"
    assert topo.ruby_path("rbenv", "/srv/m").startswith("/srv/m/.rbenv/shims:")


def test_hosts_of_separate_instances_never_proxy_to_each_other():
    # Two one-host instances in one inventory (the web scenario's Debian 13 and 12).
    hostvars = {host: {"herd_instance": host, "mastodon_local_domain": "example.coop"}
                for host in ("a", "b")}
    groups = {group: ["a", "b"] for group in
              ("nginx", "mastodon", "mastodon_web", "mastodon_streaming", "postgresql")}
    facts = topo.topology(hostvars, groups, "b")
    assert facts["web_upstreams"] == ["127.0.0.1:3000"]
    assert facts["bind"] == "127.0.0.1"

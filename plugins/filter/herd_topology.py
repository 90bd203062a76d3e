"""The instance's topology: which host reaches which, on what address and port.

Every fact that crosses tiers has one owner: the role whose service defines it
(`mastodon_web_port` in roles/mastodon, `postgresql_port` in roles/postgresql, ...).
A host's value is its inventory value when the inventory sets one, else the owner
role's default, read from that role's defaults/main.yml: the playbooks never
re-type a default. playbooks/group_vars/all/topology.yml maps the results onto the
consuming roles' inputs (nginx's upstreams, Mastodon's database and Redis, the
data tier's client allowlists), and `herd_topology_problems` refuses a layout that
cannot work before any host is changed.

Pure functions of (hostvars, groups); `hostvars` is any mapping of host name to a
mapping of its variables (Ansible's HostVars, or plain dicts in the unit tests).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
LOOPBACK = "127.0.0.1"
APP_GROUPS = ("mastodon_web", "mastodon_streaming", "mastodon_sidekiq")


class TopologyError(ValueError):
    """A fact the topology needs is missing or unusable; the message names the fix."""


@cache
def role_defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}


def owner_fact(host_vars: Mapping[str, Any], role: str, name: str) -> Any:
    """The host's value of `name`, or the default of the role that owns it."""
    if name in host_vars:
        return host_vars[name]
    defaults = role_defaults(role)
    if name not in defaults:
        raise TopologyError(f"{name}: roles/{role} has no default and the inventory sets none")
    value = defaults[name]
    if isinstance(value, str) and "{{" in value:
        # A templated default depends on play context the topology does not have.
        raise TopologyError(f"{name}: roles/{role}'s default is templated; set it in the inventory")
    return value


def members(groups: Mapping[str, list[str]], group: str) -> list[str]:
    return list(groups.get(group) or [])


def app_hosts(groups: Mapping[str, list[str]]) -> list[str]:
    """Hosts running any Mastodon process, in inventory order, once each."""
    seen: list[str] = []
    for group in APP_GROUPS:
        seen += [host for host in members(groups, group) if host not in seen]
    return seen


def private_address(hostvars: Mapping[str, Mapping[str, Any]], host: str) -> str:
    """The address other hosts use to reach `host` on the private network."""
    host_vars = hostvars[host]
    address = host_vars.get("herd_private_address") or ""
    if not address:
        raise TopologyError(
            f"herd_private_address: {host} is reached by other hosts; set its private "
            f"address in the inventory (hosts.yml: {host}: {{herd_private_address: 10.0.0.x}})")
    try:
        ipaddress.ip_address(address)
    except ValueError as error:
        raise TopologyError(
            f"herd_private_address: {host} has '{address}', which is not an IP address") from error
    return str(address)


def address_from(hostvars: Mapping[str, Mapping[str, Any]], target: str, viewer: str) -> str:
    """How `viewer` reaches `target`: loopback on the same host, else its private address."""
    return LOOPBACK if target == viewer else private_address(hostvars, target)


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def streaming_ports(host_vars: Mapping[str, Any]) -> list[int]:
    first = int(owner_fact(host_vars, "mastodon", "mastodon_streaming_first_port"))
    count = int(owner_fact(host_vars, "mastodon", "mastodon_streaming_instances"))
    return list(range(first, first + count))


def web_upstreams(hostvars: Mapping[str, Mapping[str, Any]],
                  groups: Mapping[str, list[str]]) -> list[str]:
    """`address:port` of every Puma the nginx on `viewer` proxies to: where it listens."""
    return [_endpoint(bind_address(hostvars, groups, host),
                      int(owner_fact(hostvars[host], "mastodon", "mastodon_web_port")))
            for host in members(groups, "mastodon_web")]


def streaming_upstreams(hostvars: Mapping[str, Mapping[str, Any]],
                        groups: Mapping[str, list[str]]) -> list[str]:
    """`address:port` of every streaming instance on every streaming host."""
    return [_endpoint(bind_address(hostvars, groups, host), port)
            for host in members(groups, "mastodon_streaming")
            for port in streaming_ports(hostvars[host])]


def bind_address(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, list[str]],
                 host: str) -> str:
    """BIND for Puma and streaming: loopback unless an nginx on another host proxies to them."""
    remote_proxies = [proxy for proxy in members(groups, "nginx") if proxy != host]
    serves = host in members(groups, "mastodon_web") + members(groups, "mastodon_streaming")
    return private_address(hostvars, host) if serves and remote_proxies else LOOPBACK


def first_of(groups: Mapping[str, list[str]], group: str) -> str | None:
    hosts = members(groups, group)
    return hosts[0] if hosts else None


def database(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, list[str]],
             viewer: str) -> dict[str, Any]:
    """Mastodon's DB_* settings on `viewer`, from the first postgresql host."""
    server = first_of(groups, "postgresql")
    if server is None:
        raise TopologyError("postgresql: the inventory has no host in group postgresql")
    server_vars = hostvars[server]
    return {
        # Debian's packaged socket directory when PostgreSQL runs on the same host.
        "host": ("/var/run/postgresql" if server == viewer
                 else private_address(hostvars, server)),
        "port": int(owner_fact(server_vars, "postgresql", "postgresql_port")),
        "name": owner_fact(server_vars, "postgresql", "postgresql_mastodon_database"),
        "user": owner_fact(server_vars, "postgresql", "postgresql_mastodon_user"),
        "password": server_vars.get("postgresql_mastodon_password", ""),
    }


def redis(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, list[str]],
          viewer: str) -> dict[str, Any]:
    """Mastodon's REDIS_* settings on `viewer`, from the first redis host."""
    server = first_of(groups, "redis")
    if server is None:
        raise TopologyError("redis: the inventory has no host in group redis")
    server_vars = hostvars[server]
    return {
        "host": address_from(hostvars, server, viewer),
        "port": int(owner_fact(server_vars, "redis", "redis_port")),
        "password": server_vars.get("redis_password", ""),
    }


def client_addresses(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, list[str]],
                     server: str) -> list[str]:
    """Private addresses of the app hosts other than `server`: who may reach its data tier."""
    return [private_address(hostvars, host) for host in app_hosts(groups) if host != server]


def names(host_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The instance's names, as the mastodon role's inputs state them."""
    if "mastodon_local_domain" not in host_vars:
        raise TopologyError("mastodon_local_domain: set it to the domain in your users' handles "
                            "(group_vars/all), e.g. social.example.coop")
    local = host_vars["mastodon_local_domain"]
    web = owner_fact(host_vars, "mastodon", "mastodon_web_domain") or local
    alternates = list(owner_fact(host_vars, "mastodon", "mastodon_alternate_domains"))
    return {"local_domain": local, "web_domain": web, "alternate_domains": alternates,
            # The certificate's names: the web interface's name first (it names the file).
            "all": list(dict.fromkeys([web, local, *alternates]))}


def ruby_path(source: str, home: str) -> str:
    """PATH under which Mastodon's Ruby (rbenv shims, or Debian's ruby) is found."""
    system = "/usr/local/bin:/usr/bin:/bin"
    return system if source == "debian" else f"{home}/.rbenv/shims:{home}/.rbenv/bin:{system}"


def mastodon_files(host_vars: Mapping[str, Any]) -> dict[str, Any]:
    """Where the mastodon role puts the checkout, and who runs it."""
    home = owner_fact(host_vars, "mastodon", "mastodon_home")
    app_dir = owner_fact(host_vars, "mastodon", "mastodon_app_dir")
    return {
        "user": owner_fact(host_vars, "mastodon", "mastodon_user"),
        "home": home,
        "app_dir": app_dir,
        "public_dir": f"{app_dir}/public",
        "state_dir": owner_fact(host_vars, "mastodon", "mastodon_state_dir"),
        "path": ruby_path(owner_fact(host_vars, "mastodon", "mastodon_ruby_source"), home),
        "s3_enabled": bool(owner_fact(host_vars, "mastodon", "mastodon_s3_enabled")),
    }


def instance_of(hostvars: Mapping[str, Mapping[str, Any]], host: str) -> str:
    """`herd_instance` of a host: hosts with different values are separate instances
    that share an inventory (and no data); "" for the usual one-instance inventory."""
    return str(hostvars[host].get("herd_instance") or "")


def instance_groups(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, list[str]],
                    instance: str) -> dict[str, list[str]]:
    """The inventory's groups, restricted to the hosts of one instance."""
    return {group: [host for host in hosts if host in hostvars
                    and instance_of(hostvars, host) == instance]
            for group, hosts in groups.items()}


def topology(hostvars: Mapping[str, Mapping[str, Any]], groups: Mapping[str, list[str]],
             host: str) -> dict[str, Any]:
    """Every cross-tier input of `host`'s roles, computed once (topology.yml maps them).

    Only the hosts of `host`'s instance count. Parts whose group is empty are left
    out; `problems` names the missing group."""
    own = instance_groups(hostvars, groups, instance_of(hostvars, host))
    return _instance_topology(hostvars, own, host)


def _instance_topology(hostvars: Mapping[str, Mapping[str, Any]],
                       groups: Mapping[str, list[str]], host: str) -> dict[str, Any]:
    host_vars = hostvars[host]
    apps = app_hosts(groups)
    facts: dict[str, Any] = {
        "run_web": host in members(groups, "mastodon_web"),
        "run_streaming": host in members(groups, "mastodon_streaming"),
        "run_sidekiq": host in members(groups, "mastodon_sidekiq"),
        "has_mastodon": host in apps,
        "mastodon": mastodon_files(host_vars),
    }
    if host in apps or host in members(groups, "nginx"):
        facts["names"] = names(host_vars)
    if host in members(groups, "postgresql"):
        # Its own database (backups run here), over the local socket.
        facts["database"] = database(hostvars, {"postgresql": [host]}, host)
    elif host in apps and members(groups, "postgresql"):
        facts["database"] = database(hostvars, groups, host)
    if host in apps and members(groups, "redis"):
        facts["redis"] = redis(hostvars, groups, host)
    if host in apps:
        facts["bind"] = bind_address(hostvars, groups, host)
    if host in members(groups, "nginx"):
        facts["web_upstreams"] = web_upstreams(hostvars, groups)
        facts["streaming_upstreams"] = streaming_upstreams(hostvars, groups)
        facts["nginx_cache_dir"] = owner_fact(host_vars, "nginx", "nginx_proxy_cache_path")
    else:
        facts["nginx_cache_dir"] = ""
    clients = client_addresses(hostvars, groups, host)
    facts["postgresql_clients"] = clients if host in members(groups, "postgresql") else []
    facts["redis_clients"] = clients if host in members(groups, "redis") else []
    pruning = first_of(groups, "mastodon_sidekiq") or first_of(groups, "mastodon_web")
    facts["runs_pruning"] = host == pruning
    return facts


# Listening on every address also covers the private one.
WILDCARDS = ("*", "0.0.0.0", "::")  # noqa: S104 - compared against, never bound


def _listens_on(addresses: list[str], address: str) -> bool:
    # Redis marks optional addresses with a leading "-".
    return any(entry.lstrip("-") in (address, *WILDCARDS) for entry in addresses)


def _scheduler_processes(processes: list[Mapping[str, Any]]) -> int:
    # A process without a queue list runs upstream's config/sidekiq.yml, scheduler included.
    return sum(1 for process in processes
               if not process.get("queues") or "scheduler" in process.get("queues", []))


def problems(hostvars: Mapping[str, Mapping[str, Any]],
             groups: Mapping[str, list[str]]) -> list[str]:
    """Every reason the layout cannot work, each naming the variable or group and the fix."""
    instances = sorted({instance_of(hostvars, host) for hosts in groups.values() for host in hosts
                        if host in hostvars})
    found: list[str] = []
    for instance in instances:
        prefix = f"herd_instance {instance}: " if instance else ""
        found += [prefix + problem for problem in
                  _instance_problems(hostvars, instance_groups(hostvars, groups, instance))]
    return found


def _instance_problems(hostvars: Mapping[str, Mapping[str, Any]],
                       groups: Mapping[str, list[str]]) -> list[str]:
    found: list[str] = []
    apps = app_hosts(groups)
    for group in ("postgresql", "redis"):
        if apps and not members(groups, group):
            found.append(f"{group}: Mastodon hosts ({', '.join(apps)}) need a host in group "
                         f"{group}; add one to the inventory")
    if members(groups, "nginx") and not members(groups, "mastodon_web"):
        found.append("mastodon_web: nginx hosts proxy to Puma, but group mastodon_web is empty")
    if members(groups, "nginx") and not members(groups, "mastodon_streaming"):
        found.append("mastodon_streaming: nginx hosts proxy to streaming, but group "
                     "mastodon_streaming is empty")
    for proxy in members(groups, "nginx"):
        if proxy not in members(groups, "mastodon_web"):
            found.append(f"mastodon_web: nginx on {proxy} serves Mastodon's static files from "
                         "the release on its own disk; put it in mastodon_web too")
    if apps and not members(groups, "mastodon_sidekiq"):
        found.append("mastodon_sidekiq: no host runs Sidekiq; add one to that group")
    for host in set(apps) | set(members(groups, "nginx")):
        try:
            _instance_topology(hostvars, groups, host)
        except TopologyError as error:
            found.append(str(error))
    if found:
        return sorted(set(found))

    web = members(groups, "mastodon_web")
    local_media = [host for host in apps
                   if not owner_fact(hostvars[host], "mastodon", "mastodon_s3_enabled")]
    if len(web) > 1 and local_media:
        found.append(
            f"mastodon_s3_enabled: {', '.join(web)} serve uploads, but {', '.join(local_media)} "
            "would keep them on local disk, so a file uploaded through one web host is missing "
            "on the others; set mastodon_s3_enabled: true with a bucket (group_vars/mastodon)")

    for group, variable in (("postgresql", "postgresql_listen_addresses"),
                            ("redis", "redis_bind")):
        server = first_of(groups, group)
        if server is None or not client_addresses(hostvars, groups, server):
            continue
        address = private_address(hostvars, server)
        listening = list(owner_fact(hostvars[server], group, variable))
        if not _listens_on(listening, address):
            clients = [host for host in apps if host != server]
            found.append(f"{variable}: {server} must listen on {address}, which "
                         f"{', '.join(clients)} use; add it (now {listening})")

    schedulers = sum(
        _scheduler_processes(owner_fact(hostvars[host], "mastodon", "mastodon_sidekiq_processes"))
        for host in members(groups, "mastodon_sidekiq"))
    if schedulers > 1:
        found.append(
            f"mastodon_sidekiq_processes: {schedulers} Sidekiq processes across "
            f"{', '.join(members(groups, 'mastodon_sidekiq'))} run the scheduler queue, so "
            "scheduled jobs run more than once; give the other hosts' processes queue lists "
            "without `scheduler` (host_vars)")
    return found


def _or_fail(function):
    """Ansible shows an AnsibleFilterError's message to the operator, without a traceback."""
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except TopologyError as error:
            from ansible.errors import AnsibleFilterError

            raise AnsibleFilterError(str(error)) from error

    wrapped.__name__ = function.__name__
    wrapped.__doc__ = function.__doc__
    return wrapped


class FilterModule:
    def filters(self):
        return {
            "herd_topology": _or_fail(topology),
            "herd_topology_problems": problems,
            "herd_ruby_path": ruby_path,
        }

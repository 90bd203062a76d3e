"""Bad input is refused before any change, on a real host: the shipped playbooks run
against a fresh systemd container holding every tier (inventories/local's layout)
and must stop in their first play, naming the variable, with nothing installed or
written on the container."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
IMAGE = f"{os.environ.get('HERD_IMAGE_PREFIX', 'localhost/herd-debian')}:13"
LOCAL = yaml.safe_load((REPO / "inventories/local/group_vars/all/main.yml").read_text())
# What a user adds for backups (roles/backup/README.md) and nothing else.
BACKUP = {"backup_s3_bucket": "backups", "backup_encryption_key": "A" * 43 + "="}
# The preflight probes every outside source from the host: a local mirror of the code
# (made by the fixture, as molecule/all-in-one/prepare.yml does) and Debian's Node and
# Ruby keep the container's probes inside it.
MIRROR = "/srv/mirrors/mastodon.git"
LOCAL_SOURCES = {"mastodon_git_url": MIRROR, "mastodon_node_source": "debian",
                 "mastodon_ruby_source": "debian"}
# A newcomer's run where no outside source answers (a closed port on the container's
# loopback), with upstream's way of installing (NodeSource, rbenv) and a set registry.
CLOSED = "http://127.0.0.1:9"
UNREACHABLE = {
    "mastodon_git_url": f"{CLOSED}/mastodon.git",
    "mastodon_node_source": "nodesource",
    "mastodon_nodesource_key_url": f"{CLOSED}/nodesource.gpg.key",
    "mastodon_nodesource_repo_url": f"{CLOSED}/node_24.x",
    "mastodon_ruby_source": "rbenv",
    "mastodon_rbenv_git_url": f"{CLOSED}/rbenv.git",
    "mastodon_ruby_build_git_url": f"{CLOSED}/ruby-build.git",
    "mastodon_ruby_download_url": f"{CLOSED}/ruby",
    "mastodon_rubygems_mirror": f"{CLOSED}/gems",
    "mastodon_npm_registry": f"{CLOSED}/npm",
}
SOURCE_VARIABLES = [name for name in UNREACHABLE
                    if name.endswith(("_url", "_registry", "_mirror"))]

# (playbook, variable, bad value, words the refusal must contain): over every role.
BAD_INPUTS = [
    ("site.yml", "mastodon_local_domain", "herdlocal", ["mastodon_local_domain"]),
    ("site.yml", "mastodon_alternate_domains", ["https://old.example.coop"],
     ["mastodon_alternate_domains", "host name"]),
    ("site.yml", "mastodon_registrations_mode", "sometimes", ["mastodon_registrations_mode"]),
    ("site.yml", "mastodon_ip_retention_period", 3600, ["mastodon_ip_retention_period", "172800"]),
    ("site.yml", "postgresql_mastodon_password", "short", ["postgresql_mastodon_password"]),
    ("site.yml", "postgresql_allowed_networks", ["0.0.0.0/0"],
     ["postgresql_allowed_networks", "allows every address"]),
    ("site.yml", "redis_password", "short", ["redis_password", "16 characters"]),
    ("site.yml", "tls_mode", "letsencrypt", ["tls_mode"]),
    ("site.yml", "nginx_client_max_body_size", "99 MB", ["nginx_client_max_body_size", "99m"]),
    ("site.yml", "nginx_streaming_port_count", 2,
     ["nginx_streaming_port_count", "mastodon_streaming_instances"]),
    ("site.yml", "vault_redis_password", "CHANGE-ME", ["vault_redis_password", "CHANGE-ME"]),
    ("backup.yml", "backup_encryption_key", "not-a-key", ["backup_encryption_key", "base64"]),
    ("maintenance.yml", "maintenance_cache_cleanup_low_water", 95,
     ["maintenance_cache_cleanup_low_water"]),
]

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman")


@pytest.fixture(scope="module")
def container(tmp_path_factory):
    name = f"herd-preflight-{uuid.uuid4().hex[:8]}"
    subprocess.run(["podman", "run", "-d", "--name", name, "--systemd=always", IMAGE,
                    "/lib/systemd/systemd"], check=True, capture_output=True, timeout=120)
    try:
        # Everything written after this marker counts as a change; first let the boot
        # finish its own writes (ldconfig, timer stamps).
        for _ in range(120):
            state = subprocess.run(["podman", "exec", name, "systemctl", "is-system-running"],
                                   capture_output=True, text=True, check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.5)
        subprocess.run(["podman", "exec", name, "mkdir", "-p", MIRROR], check=True)
        subprocess.run(["podman", "exec", name, "touch", "/run/herd-preflight-marker"], check=True)
        yield name
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)


def run(container: str, tmp: Path, playbook: str, variable: str, value,
        overrides: dict | None = None) -> str:
    inventory = tmp / f"{uuid.uuid4().hex}.yml"
    groups = {group: {"hosts": {container: {}}}
              for group in ("postgresql", "redis", "nginx")}
    groups["mastodon"] = {"children": {group: {"hosts": {container: {}}} for group in
                                       ("mastodon_web", "mastodon_streaming", "mastodon_sidekiq")}}
    variables = {**LOCAL, **BACKUP, **LOCAL_SOURCES,
                 "ansible_connection": "containers.podman.podman",
                 "ansible_python_interpreter": "/usr/bin/python3"}
    if variable.startswith("vault_"):
        variables[variable.removeprefix("vault_")] = "{{ " + variable + " }}"
    variables[variable] = value
    variables.update(overrides or {})
    inventory.write_text(json.dumps({"all": {"children": groups, "vars": variables}}))
    start = time.monotonic()
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(REPO / "playbooks" / playbook)],
        capture_output=True, text=True, cwd=REPO, timeout=900, check=False,
        # Each test's container is a fresh host: its facts are gathered, never cached.
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_CACHE_PLUGIN": "memory"})
    elapsed = time.monotonic() - start
    return f"rc={result.returncode}\nelapsed={elapsed:.0f}\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def outcomes(container, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inventories")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {(playbook, variable): pool.submit(run, container, tmp, playbook, variable, value)
                   for playbook, variable, value, _ in BAD_INPUTS}
        # The local example's inputs, every outside source unreachable.
        futures[("site.yml", "sources")] = pool.submit(
            run, container, tmp, "site.yml", "mastodon_local_domain",
            LOCAL["mastodon_local_domain"], UNREACHABLE)
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize(("playbook", "variable", "value", "words"), BAD_INPUTS,
                         ids=[f"{p}:{v}" for p, v, _, _ in BAD_INPUTS])
def test_bad_input_is_refused_in_the_first_play(outcomes, playbook, variable, value, words):
    output = outcomes[(playbook, variable)]
    assert not output.startswith("rc=0"), output[-2000:]
    for word in words:
        assert word in output, output[-3000:]
    # The run stopped in the preflight: no play after it started.
    plays = [line for line in output.splitlines() if line.startswith("PLAY [")]
    assert plays and all("Check every input" in line for line in plays), plays


def test_unreachable_sources_stop_the_first_play_naming_each_variable(outcomes):
    """The newcomer's run: fails fast, once, before any change, listing every source."""
    output = outcomes[("site.yml", "sources")]
    assert not output.startswith("rc=0"), output[-2000:]
    assert f"cannot reach {len(SOURCE_VARIABLES)} source(s)" in output, output[-3000:]
    for variable in SOURCE_VARIABLES:
        assert f"{variable} (" in output, (variable, output[-3000:])
    assert "urlopen error" not in output
    plays = [line for line in output.splitlines() if line.startswith("PLAY [")]
    assert plays and all("Check every input" in line for line in plays), plays


def test_nothing_was_installed_or_written(outcomes, container):
    assert outcomes  # every refused run has finished
    changed = subprocess.run(
        ["podman", "exec", container, "find", "/etc", "/opt", "/home", "/srv", "/usr", "/var/lib",
         "/var/www", "-xdev", "-newer", "/run/herd-preflight-marker", "-not", "-type", "d"],
        capture_output=True, text=True, check=False, timeout=120).stdout.split()
    # systemd keeps its timers' last-run stamps there on its own.
    assert [path for path in changed if not path.startswith("/var/lib/systemd/")] == []
    packages = subprocess.run(
        ["podman", "exec", container, "dpkg-query", "-W", "-f", "${Package}\n",
         "postgresql", "redis-server", "nginx"],
        capture_output=True, text=True, check=False).stdout.split()
    assert packages == []

"""What a Mastodon operator notices about the data tier, checked inside each container.

Connection details come from the roles' defaults and the scenario's inventory; the
tuning expected live is computed here from the host's facts by the policy the role's
README documents, not by rendering the role's own formulas.
"""

import shlex
from pathlib import Path

import jinja2
import pytest
import testinfra
import yaml

REPO = Path(__file__).resolve().parents[3]
SCENARIO = Path(__file__).resolve().parents[1]


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def _scenario_vars() -> dict:
    inventory = _load(SCENARIO / "molecule.yml")["provisioner"]["inventory"]
    return inventory["group_vars"]["all"]


def _render_all(variables: dict, facts: dict) -> dict:
    """Render templated variables with the facts, resolving references between them."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701 (not HTML)

    def render(value, context):
        if isinstance(value, list):
            return [render(item, context) for item in value]
        if isinstance(value, str) and "{{" in value:
            return env.from_string(value).render(context).strip()
        return value

    done = dict(facts)
    pending = dict(variables)
    while pending:
        progress = False
        for name, value in list(pending.items()):
            try:
                done[name] = render(value, done)
            except jinja2.UndefinedError:
                continue
            del pending[name]
            progress = True
        if not progress:
            raise AssertionError(f"cannot render {sorted(pending)}")
    return done


@pytest.fixture(scope="module")
def box(host):
    """The same container, with commands run by `podman exec` directly.

    testinfra does not know Molecule's containers.podman.podman connection and
    would run every command through a whole Ansible process (seconds each).
    """
    connection = host.backend.ansible_runner.get_variables(host.backend.host).get(
        "ansible_connection", "")
    if connection.endswith("podman"):
        return testinfra.get_host(f"podman://{host.backend.host}")
    return host


@pytest.fixture(scope="module")
def facts(host) -> dict:
    return host.ansible("setup")["ansible_facts"]


@pytest.fixture(scope="module")
def pg(facts) -> dict:
    """The postgresql role's inputs as this host sees them (defaults + scenario)."""
    variables = {**_load(REPO / "roles/postgresql/defaults/main.yml"), **_scenario_vars()}
    return _render_all(variables, facts)


@pytest.fixture(scope="module")
def redis(facts) -> dict:
    variables = {**_load(REPO / "roles/redis/defaults/main.yml"), **_scenario_vars()}
    return _render_all(variables, facts)


def psql(box, pg: dict, sql: str, *, address: str, password: str | None, user: str = ""):
    """Run one query as the Mastodon role; never prompts for a password."""
    env = f"PGPASSWORD={shlex.quote(password)} " if password is not None else ""
    command = (
        f"{env}psql -w -X -tA -h {shlex.quote(address)} -p {int(pg['postgresql_port'])} "
        f"-U {shlex.quote(user or pg['postgresql_mastodon_user'])} "
        f"-d {shlex.quote(pg['postgresql_mastodon_database'])} -c {shlex.quote(sql)}"
    )
    return box.run(command)


def test_mastodon_role_connects_over_tcp_with_its_password(box, pg):
    result = psql(box, pg, "SELECT current_user", address="127.0.0.1",
                  password=pg["postgresql_mastodon_password"])
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == pg["postgresql_mastodon_user"]


def test_mastodon_role_connects_over_the_socket_as_configured(box, pg):
    socket = "/var/run/postgresql"
    result = psql(box, pg, "SELECT current_user", address=socket,
                  password=pg["postgresql_mastodon_password"])
    assert result.rc == 0, result.stderr
    if pg["postgresql_mastodon_local_auth"] == "scram-sha-256":
        without = psql(box, pg, "SELECT 1", address=socket, password=None)
        assert without.rc != 0
        assert "password" in without.stderr


def test_wrong_password_is_refused(box, pg):
    result = psql(box, pg, "SELECT 1", address="127.0.0.1", password="not-the-password-at-all")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_client_from_a_network_not_allowed_is_refused(box, pg, facts):
    # The server listens on the container's own address, but only 192.0.2.0/24
    # is allowed: a client whose source is that address has no pg_hba entry.
    address = facts["ansible_default_ipv4"]["address"]
    assert address in pg["postgresql_listen_addresses"]
    result = psql(box, pg, "SELECT 1", address=address, password=pg["postgresql_mastodon_password"])
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr


def test_mastodon_role_can_create_databases_and_has_a_scram_password(box, pg):
    result = psql(box, pg, "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user",
                  address="127.0.0.1", password=pg["postgresql_mastodon_password"])
    assert result.stdout.strip() == "t", result.stderr
    # The name goes in as a psql variable, quoted by psql (:'user').
    query = "SELECT rolpassword FROM pg_authid WHERE rolname = :'user'"
    stored = box.run(
        f"echo {shlex.quote(query)} | sudo -u postgres psql -X -tA "
        f"-v user={shlex.quote(pg['postgresql_mastodon_user'])}"
    )
    assert stored.stdout.startswith("SCRAM-SHA-256$"), stored.stderr


def pgtune_expectations(memtotal_mb: int, vcpus: int, max_connections: int) -> dict[str, int]:
    """The documented tuning policy (roles/postgresql/README.md, "Tuning"), computed
    here from the host's RAM and CPUs, independently of the role's own formulas.
    Sizes in MB, counts as numbers."""
    shared_buffers = memtotal_mb * 25 // 100
    per_gather = min(max(vcpus // 2, 1), 4)
    return {
        "shared_buffers": shared_buffers,
        "effective_cache_size": memtotal_mb * 75 // 100,
        "maintenance_work_mem": min(memtotal_mb // 16, 2048),
        "work_mem": max((memtotal_mb - shared_buffers) // (3 * max_connections) // per_gather, 1),
        "wal_buffers": min(max(shared_buffers * 3 // 100, 1), 16),
        "max_worker_processes": max(vcpus, 8),
        "max_parallel_workers": vcpus,
        "max_parallel_workers_per_gather": per_gather,
        "max_connections": max_connections,
    }


SIZES = {
    "shared_buffers", "effective_cache_size", "maintenance_work_mem", "work_mem", "wal_buffers",
}


@pytest.mark.parametrize("setting", sorted(pgtune_expectations(4096, 4, 200)))
def test_tuned_settings_are_live(box, pg, facts, setting):
    # 200 connections: the README's default, which the scenario's inventory keeps.
    expected = pgtune_expectations(int(facts["ansible_memtotal_mb"]),
                                   int(facts["ansible_processor_vcpus"]), 200)[setting]
    # SHOW gives "6GB"-style text: compare in bytes for sizes.
    sql = f"SHOW {setting}"
    if setting in SIZES:
        sql = f"SELECT pg_size_bytes(current_setting('{setting}'))"
        expected *= 1024 * 1024
    result = psql(box, pg, sql, address="127.0.0.1", password=pg["postgresql_mastodon_password"])
    assert result.rc == 0, result.stderr
    assert int(result.stdout.strip()) == expected


def test_new_passwords_are_hashed_with_scram(box, pg):
    result = psql(box, pg, "SHOW password_encryption", address="127.0.0.1",
                  password=pg["postgresql_mastodon_password"])
    assert result.stdout.strip() == "scram-sha-256"


def redis_cli(box, redis: dict, *args: str, password: str | None = None, address="127.0.0.1"):
    # REDISCLI_AUTH keeps the password off the command line (and the warning off stderr).
    env = f"REDISCLI_AUTH={shlex.quote(password)} " if password else ""
    command = f"{env}redis-cli -h {shlex.quote(address)} -p {int(redis['redis_port'])} "
    return box.run(command + " ".join(shlex.quote(a) for a in args))


def test_redis_refuses_unauthenticated_commands(box, redis):
    result = redis_cli(box, redis, "PING")
    assert "NOAUTH" in result.stdout + result.stderr


def test_redis_accepts_the_password(box, redis):
    result = redis_cli(box, redis, "PING", password=redis["redis_password"])
    assert result.stdout.strip() == "PONG"


def test_redis_never_evicts(box, redis):
    result = redis_cli(box, redis, "CONFIG", "GET", "maxmemory-policy",
                       password=redis["redis_password"])
    assert result.stdout.split() == ["maxmemory-policy", "noeviction"]


def test_redis_snapshots_to_disk(box, redis):
    result = redis_cli(box, redis, "CONFIG", "GET", "save", password=redis["redis_password"])
    assert result.stdout.splitlines()[1:] == [" ".join(redis["redis_save"])]


def test_redis_is_not_reachable_on_the_container_address(box, redis, facts):
    address = facts["ansible_default_ipv4"]["address"]
    result = redis_cli(box, redis, "PING", password=redis["redis_password"], address=address)
    assert "PONG" not in result.stdout
    assert "refused" in (result.stdout + result.stderr).lower()


def test_redis_keeps_keys_across_a_restart(box, redis):
    password = redis["redis_password"]
    assert redis_cli(box, redis, "SET", "herd:data-tier", "kept", password=password).rc == 0
    box.run_expect([0], "systemctl restart redis-server")
    after = redis_cli(box, redis, "GET", "herd:data-tier", password=password)
    assert after.stdout.strip() == "kept"
    # Debian's hardened unit is the one running, not a replacement.
    fragment = box.run("systemctl show -p FragmentPath --value redis-server").stdout.strip()
    assert fragment.startswith("/usr/lib/systemd/system/") or fragment.startswith("/lib/systemd/")


def test_redis_config_is_readable_by_redis_only(box):
    config = box.file("/etc/redis/redis.conf")
    assert config.user == "redis"
    assert config.mode == 0o640

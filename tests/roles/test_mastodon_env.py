""".env.production as rendered for a host: which variables upstream reads are written,
and when. Expected names and values are upstream's (file and line at v4.6.5, commit
1440d55b) or what an operator writes in an inventory."""

import pytest
from render import render

TEMPLATE = "home/mastodon/live/.env.production.j2"
INVENTORY = {
    "mastodon_local_domain": "social.example.coop",
    "mastodon_db_password": "db-password",
    # What configure.yml settles before rendering: every secret has a value.
    "__mastodon_secrets": {name: f"{name.lower()}-value" for name in (
        "SECRET_KEY_BASE", "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
        "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT", "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
        "VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY")},
}


def env_of(text: str) -> dict[str, str]:
    """NAME -> value of each assignment line; surrounding quotes (if the template
    quotes values) are taken off, since these tests look at plain values only."""
    env = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[name] = value
    return env


@pytest.fixture
def dotenv(tmp_path):
    return lambda **overrides: env_of(render(tmp_path, "mastodon", TEMPLATE,
                                             {**INVENTORY, **overrides}))


# --- Point 5: the exporter's clients ------------------------------------------------------

def test_exporter_enables_the_app_metrics(dotenv):
    # config/puma.rb:19, config/initializers/sidekiq.rb:26 and
    # config/initializers/prometheus_exporter.rb:3 instrument only when this is 'true'.
    env = dotenv(mastodon_prometheus_exporter=True)
    assert env["MASTODON_PROMETHEUS_EXPORTER_ENABLED"] == "true"


def test_exporter_port_and_address_reach_the_clients(dotenv):
    # Without MASTODON_PROMETHEUS_EXPORTER_LOCAL, Puma and Sidekiq send to the separate
    # exporter through PrometheusExporter::Client.default, which reads
    # PROMETHEUS_EXPORTER_HOST (default localhost) and PROMETHEUS_EXPORTER_PORT
    # (default 9394): prometheus_exporter 2.3.1 (Gemfile.lock:615),
    # lib/prometheus_exporter/client.rb:55-56. The unit listens on 127.0.0.1.
    env = dotenv(mastodon_prometheus_exporter=True, mastodon_prometheus_exporter_port=9500)
    assert env["PROMETHEUS_EXPORTER_PORT"] == "9500"
    assert env["PROMETHEUS_EXPORTER_HOST"] == "127.0.0.1"
    # The separate exporter unit collects; the in-process server would bind the same port.
    assert "MASTODON_PROMETHEUS_EXPORTER_LOCAL" not in env


def test_no_exporter_writes_no_exporter_variables(dotenv):
    env = dotenv()
    assert not [name for name in env if "PROMETHEUS" in name]


# --- Point 6: AUTHORIZED_FETCH only when the operator sets it -------------------------------

def test_authorized_fetch_is_absent_by_default(dotenv):
    # app/helpers/authorized_fetch_helper.rb:9: ENV.key?('AUTHORIZED_FETCH') marks the admin
    # UI's secure-mode toggle as overridden, whatever the value.
    assert "AUTHORIZED_FETCH" not in dotenv()


@pytest.mark.parametrize(("wanted", "written"), [(True, "true"), (False, "false")])
def test_authorized_fetch_is_written_when_set(dotenv, wanted, written):
    # authorized_fetch_helper.rb:5 compares the value with 'true'.
    assert dotenv(mastodon_authorized_fetch=wanted)["AUTHORIZED_FETCH"] == written


# --- Point 7: open sign-ups stay open ------------------------------------------------------

def test_open_registrations_disable_upstreams_switch_to_approval(dotenv):
    # app/workers/scheduler/auto_close_registrations_scheduler.rb:14 returns early when
    # this is 'true'; otherwise it switches an unmoderated open server to `approved`
    # and herd's next run would switch it back.
    env = dotenv(mastodon_registrations_mode="open")
    assert env["DISABLE_AUTOMATIC_SWITCHING_TO_APPROVED_REGISTRATIONS"] == "true"


@pytest.mark.parametrize("mode", ["approved", "none"])
def test_other_modes_leave_the_switch_alone(dotenv, mode):
    # The scheduler acts only on 'open' (auto_close_registrations_scheduler.rb:15).
    env = dotenv(mastodon_registrations_mode=mode)
    assert "DISABLE_AUTOMATIC_SWITCHING_TO_APPROVED_REGISTRATIONS" not in env

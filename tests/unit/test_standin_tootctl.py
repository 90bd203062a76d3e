"""The Mastodon stand-in's own contract: tootctl's command line, its file semantics,
the boot refusals and the repository builder. No database needed (stdlib + git + openssl).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import harness
import pytest

sys.dont_write_bytecode = True  # keep the stand-in source tree free of __pycache__

STANDIN = Path(__file__).resolve().parents[2] / "molecule" / "shared" / "standin"
sys.path.insert(0, str(STANDIN / "tree" / "lib"))

from standin import yamlish  # noqa: E402
from standin.cli_options import UsageError, parse  # noqa: E402
from standin.rails_tasks import migrations, vapid_keypair  # noqa: E402

V45 = (4, 5, 15)
V46 = (4, 6, 5)
DAY = 86400

BOOT_ENV = {
    "RAILS_ENV": "production",
    "LOCAL_DOMAIN": "social.example.test",
    "DB_HOST": "/var/run/postgresql",
    "DB_NAME": "mastodon_production",
    "DB_USER": "mastodon",
    "SECRET_KEY_BASE": "a" * 128,
    "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY": "b" * 32,
    "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT": "c" * 32,
    "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY": "d" * 32,
    "VAPID_PRIVATE_KEY": "e" * 44,
    "VAPID_PUBLIC_KEY": "f" * 88,
}


def make_app(tmp_path: Path, release: str = "v4.6.5") -> Path:
    """A checkout of one release, as build-repo.sh lays it out."""
    return harness.make_root(tmp_path, release)


def tootctl(root: Path, *argv: str, env: dict[str, str] | None = None):
    child = {k: v for k, v in os.environ.items() if k not in BOOT_ENV}
    child.update(BOOT_ENV if env is None else env)
    child["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, str(root / "lib" / "standin" / "cli.py"), "tootctl", *argv],
        capture_output=True, text=True, env=child, timeout=60, check=False)


def put(path: Path, size: int, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


# -- command line ----------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["media", "remove"],
    ["media", "remove", "--days", "14", "--concurrency=2", "--verbose", "--dry-run"],
    ["media", "remove", "--days=3", "--prune-profiles", "--include-follows"],
    ["media", "remove", "--remove-headers", "--keep-interacted"],
    ["media", "remove-orphans", "--prefix", "cache", "--start-after", "k", "--fix-permissions"],
    ["media", "remove_orphans", "--dry_run"],
    ["media", "usage"],
    ["preview_cards", "remove", "--days", "30", "--link", "--dry-run"],
    ["preview-cards", "remove", "-c", "3"],
    ["statuses", "remove", "--days", "90", "--batch-size", "500", "--continue",
     "--clean-followed", "--skip-status-remove", "--skip-media-remove",
     "--compress-database"],
    ["accounts", "prune", "--concurrency", "2", "--dry-run"],
    ["accounts", "create", "alice", "--email", "a@example.org", "--confirmed", "--role",
     "Owner", "--approve"],
    ["accounts", "create", "--email=a@example.org", "alice", "--reattach", "--force"],
    ["accounts", "modify", "alice", "--approve"],
    ["settings", "registrations", "open"],
    ["settings", "registrations", "approved", "--require-reason"],
    ["settings", "registrations", "close"],
    ["email_domain_blocks", "list"],
    ["email-domain-blocks", "add", "spam.example", "junk.example", "--with-dns-records",
     "--allow-with-approval"],
    ["email_domain_blocks", "remove", "spam.example"],
    ["ip_blocks", "add", "192.0.2.0/24", "--severity", "sign_up_block", "--comment", "x"],
    ["domains", "purge", "--limited-federation-mode"],
    ["cache", "clear"],
    ["feeds", "build"],
])
def test_accepts_upstream_command_lines(argv: list[str]) -> None:
    invocation = parse(argv, V46)
    assert invocation.command.path[0] == argv[0].replace("-", "_")


def test_options_get_upstream_defaults_and_types() -> None:
    media = parse(["media", "remove"], V46).options
    assert media["days"] == 7 and media["concurrency"] == 5 and media["dry_run"] is False
    assert parse(["preview_cards", "remove"], V46).options["days"] == 180
    assert parse(["statuses", "remove"], V46).options["days"] == 90
    assert parse(["media", "remove", "--days", "3"], V46).options["days"] == 3
    assert parse(["media", "remove", "--dry-run", "--no-dry-run"], V46).options["dry_run"] is False


def test_dashed_and_underscored_forms_are_the_same_command() -> None:
    dashed = parse(["media", "remove-orphans", "--fix-permissions"], V46)
    underscored = parse(["media", "remove_orphans", "--fix_permissions"], V46)
    assert dashed.command == underscored.command
    assert dashed.options == underscored.options


@pytest.mark.parametrize(("argv", "message"), [
    (["media", "remove", "--foo"], 'Unknown switches "--foo"'),
    (["media", "remove", "--days", "many"], "Expected numeric value for '--days'; got \"many\""),
    (["media", "remove", "extra"], 'ERROR: "tootctl media remove" was called with arguments'),
    (["media", "purge"], 'Could not find command "purge" in "media" namespace.'),
    (["medias", "remove"], 'Could not find command "medias".'),
    (["accounts", "create", "alice"], "No value provided for required options '--email'"),
    (["accounts", "create", "--email", "a@b.c"], "was called with no arguments"),
    (["accounts", "create", "alice", "bob", "--email", "a@b.c"], "was called with arguments"),
    (["settings", "registrations", "open", "--require-reason"], 'Unknown switches'),
    (["ip_blocks", "add", "192.0.2.1", "--severity", "ban"], "to be one of"),
    (["accounts", "cull"], 'Could not find command "cull"'),
])
def test_rejects_what_upstream_does_not_have(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=None) as raised:
        parse(argv, V46)
    assert message in str(raised.value)


@pytest.mark.parametrize("argv", [
    ["media", "remove", "--keep-interacted"],
    ["email_domain_blocks", "add", "spam.example", "--allow-with-approval"],
])
def test_46_only_switches_are_unknown_in_45(argv: list[str]) -> None:
    parse(argv, V46)
    with pytest.raises(UsageError, match="Unknown switches"):
        parse(argv, V45)


def test_rejected_invocation_exits_1_and_logs_nothing(tmp_path: Path) -> None:
    root = make_app(tmp_path)
    done = tootctl(root, "media", "remove", "--older-than", "3")
    assert done.returncode == 1
    assert 'Unknown switches "--older-than"' in done.stderr
    assert not (root / "log" / "standin-tootctl.jsonl").exists()


# -- media remove / preview cards on a real tree ----------------------------------------

@pytest.fixture
def media_tree(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = make_app(tmp_path)
    system = root / "public" / "system"
    files = {
        "old_remote": put(system / "cache/media_attachments/files/000/001/original/a.png",
                          1000, 10),
        "old_remote_small": put(system / "cache/media_attachments/files/000/001/small/a.png",
                                200, 10),
        "new_remote": put(system / "cache/media_attachments/files/000/002/original/b.png",
                          300, 1),
        "old_local": put(system / "media_attachments/files/000/003/original/c.png", 400, 100),
        "old_avatar": put(system / "cache/accounts/avatars/000/004/original/d.png", 50, 30),
        "old_header": put(system / "cache/accounts/headers/000/004/original/e.png", 60, 30),
        "old_card": put(system / "cache/preview_cards/images/000/005/original/f.png", 70, 40),
        "new_card": put(system / "cache/preview_cards/images/000/006/original/g.png", 80, 2),
    }
    return root, files


def test_media_remove_deletes_only_old_cached_media(media_tree) -> None:
    root, files = media_tree
    done = tootctl(root, "media", "remove", "--days", "7")
    assert done.returncode == 0, done.stderr
    assert "Removed 2 media attachments (approx. 1.17 KB)" in done.stdout
    assert "standin: removed_files=2 removed_bytes=1200 dry_run=false" in done.stdout
    gone = {name for name, path in files.items() if not path.exists()}
    assert gone == {"old_remote", "old_remote_small"}


def test_media_remove_dry_run_reports_but_keeps_files(media_tree) -> None:
    root, files = media_tree
    done = tootctl(root, "media", "remove", "--days", "7", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "(DRY RUN)" in done.stdout
    assert "removed_files=2 removed_bytes=1200 dry_run=true" in done.stdout
    assert all(path.exists() for path in files.values())


def test_prune_profiles_removes_avatars_and_headers_only(media_tree) -> None:
    root, files = media_tree
    done = tootctl(root, "media", "remove", "--days", "7", "--prune-profiles")
    assert done.returncode == 0, done.stderr
    gone = {name for name, path in files.items() if not path.exists()}
    assert gone == {"old_avatar", "old_header"}


def test_remove_headers_leaves_avatars(media_tree) -> None:
    root, files = media_tree
    assert tootctl(root, "media", "remove", "--days", "7", "--remove-headers").returncode == 0
    assert not files["old_header"].exists()
    assert files["old_avatar"].exists()


@pytest.mark.parametrize(("flags", "message"), [
    (["--prune-profiles", "--remove-headers"], "should not be specified simultaneously"),
    (["--include-follows"], "--include-follows can only be used with"),
])
def test_media_remove_refuses_contradictory_flags(media_tree, flags, message) -> None:
    root, files = media_tree
    done = tootctl(root, "media", "remove", *flags)
    assert done.returncode == 1
    assert message in done.stderr
    assert all(path.exists() for path in files.values())


def test_preview_cards_remove_honours_days_without_a_minimum(media_tree) -> None:
    """Upstream has no minimum (lib/mastodon/cli/preview_cards.rb:9,26-31 at 1440d55b);
    its help only recommends 14 days (l.18-21)."""
    root, files = media_tree
    done = tootctl(root, "preview_cards", "remove", "--days", "7")
    assert done.returncode == 0, done.stderr
    assert "removed_files=1 removed_bytes=70" in done.stdout
    assert not files["old_card"].exists() and files["new_card"].exists()
    done = tootctl(root, "preview_cards", "remove", "--days", "1")
    assert done.returncode == 0, done.stderr
    assert "removed_files=1 removed_bytes=80" in done.stdout
    assert not files["new_card"].exists()


def test_accepted_invocations_are_logged_as_json_lines(media_tree) -> None:
    root, _files = media_tree
    tootctl(root, "media", "remove", "--days=9", "--dry-run")
    tootctl(root, "preview-cards", "remove", "--days", "20")
    lines = (root / "log" / "standin-tootctl.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["argv"] for r in records] == [
        ["media", "remove", "--days=9", "--dry-run"],
        ["preview-cards", "remove", "--days", "20"],
    ]
    assert records[0]["command"] == ["media", "remove"]
    assert records[0]["options"]["days"] == 9 and records[0]["options"]["dry_run"] is True
    assert records[1]["command"] == ["preview_cards", "remove"]


# -- boot refusals -------------------------------------------------------------------

@pytest.mark.parametrize("missing", [
    "LOCAL_DOMAIN", "DB_NAME", "SECRET_KEY_BASE", "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
    "VAPID_PUBLIC_KEY",
])
def test_refuses_to_boot_without_required_setting(tmp_path: Path, missing: str) -> None:
    root = make_app(tmp_path)
    env = {k: v for k, v in BOOT_ENV.items() if k != missing}
    done = tootctl(root, "cache", "clear", env=env)
    assert done.returncode == 1
    assert missing in done.stderr


def test_tcp_database_needs_a_password(tmp_path: Path) -> None:
    root = make_app(tmp_path)
    done = tootctl(root, "cache", "clear", env={**BOOT_ENV, "DB_HOST": "db.internal"})
    assert done.returncode == 1 and "DB_PASS" in done.stderr


def test_requires_production_rails_env(tmp_path: Path) -> None:
    root = make_app(tmp_path)
    env = {k: v for k, v in BOOT_ENV.items() if k != "RAILS_ENV"}
    done = tootctl(root, "cache", "clear", env=env)
    assert done.returncode == 1 and "RAILS_ENV" in done.stderr


def test_reads_env_production_from_app_root(tmp_path: Path) -> None:
    root = make_app(tmp_path)
    file_env = {k: v for k, v in BOOT_ENV.items() if k != "RAILS_ENV"}
    (root / ".env.production").write_text(
        "".join(f"{k}={v}\n" for k, v in file_env.items()) + "# comment\n")
    done = tootctl(root, "cache", "clear", env={"RAILS_ENV": "production"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"


@pytest.mark.parametrize(("release", "code"), [("v4.6.5", 1), ("v4.5.15", 0)])
def test_redis_namespace_aborts_from_46(tmp_path: Path, release: str, code: int) -> None:
    root = make_app(tmp_path, release)
    done = tootctl(root, "cache", "clear", env={**BOOT_ENV, "REDIS_NAMESPACE": "mastodon"})
    assert done.returncode == code, done.stderr


# -- pieces ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("--- My title\n", "My title"),
    ("--- 'a: b'\n", "a: b"),
    ("--- \"caf\\xE9 \\\"x\\\"\"\n", 'café "x"'),
    ("--- |-\n  line one\n  line two\n", "line one\nline two"),
    ("--- approved\n...\n", "approved"),
    ("--- true\n", True),
    ("--- 30\n", 30),
    ("--- a long title that Psych\n  folded over two lines\n",
     "a long title that Psych folded over two lines"),
    (None, None),
])
def test_settings_yaml_scalars(text: str | None, value) -> None:
    assert yamlish.load(text) == value


@pytest.mark.parametrize("value", ["open", "none", "a: b", "it's", "two\nlines", "true", "30"])
def test_settings_yaml_round_trip(value: str) -> None:
    assert yamlish.load(yamlish.dump(value)) == value


def test_post_deployment_migrations_are_separate() -> None:
    root = STANDIN / "releases" / "v4.6.5"
    regular = [version for version, _name, _path in migrations(root, post=False)]
    everything = [version for version, _name, _path in migrations(root, post=True)]
    assert regular == ["20260415000000"]
    assert everything == ["20260415000000", "20260416000000"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_vapid_keys_are_p256_like_the_webpush_gem() -> None:
    private, public = vapid_keypair()
    assert len(base64.urlsafe_b64decode(private)) == 32
    raw = base64.urlsafe_b64decode(public)
    assert len(raw) == 65 and raw[0] == 4


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_build_repo_is_deterministic_and_idempotent(tmp_path: Path) -> None:
    def build(dest: Path) -> str:
        done = subprocess.run(
            ["bash", str(STANDIN / "build-repo.sh"), "--no-safe-directory", str(dest)],
            capture_output=True, text=True, check=True, timeout=120)
        return done.stdout

    first, second = tmp_path / "a.git", tmp_path / "b.git"
    assert build(first).startswith("built:")
    assert build(first).startswith("unchanged:")
    build(second)

    def refs(repo: Path) -> str:
        return subprocess.run(["git", "-C", str(repo), "show-ref"], capture_output=True,
                              text=True, check=True).stdout

    assert refs(first) == refs(second)
    assert "refs/tags/v4.5.15" in refs(first) and "refs/tags/v4.6.5" in refs(first)
    show = subprocess.run(["git", "-C", str(first), "show", "v4.6.5:.ruby-version",
                           "v4.5.15:.ruby-version"], capture_output=True, text=True,
                          check=True).stdout
    assert show.split() == ["4.0.5", "3.4.7"]
    mode = subprocess.run(["git", "-C", str(first), "ls-tree", "v4.6.5", "bin/tootctl"],
                          capture_output=True, text=True, check=True).stdout
    assert mode.startswith("100755")


# -- the other programs (no database needed for these paths) --------------------------

def run_program(root: Path, program: str, *argv: str, env: dict[str, str] | None = None):
    child = {k: v for k, v in os.environ.items() if k not in BOOT_ENV}
    child.update(BOOT_ENV if env is None else env)
    child["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, str(root / "lib" / "standin" / "cli.py"), program, *argv],
        capture_output=True, text=True, env=child, timeout=60, check=False)


def test_rails_generators_print_upstream_formats(tmp_path: Path) -> None:
    root = make_app(tmp_path)
    env = {"RAILS_ENV": "production"}
    secret = run_program(root, "rails", "secret", env=env).stdout.strip()
    assert len(secret) == 128 and int(secret, 16) >= 0
    keys = run_program(root, "rails", "db:encryption:init", env=env).stdout
    lines = [line for line in keys.splitlines() if line.startswith("ACTIVE_RECORD")]
    assert [line.split("=")[0] for line in lines] == [
        "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
        "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
        "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
    ]
    assert all(len(line.split("=", 1)[1]) == 32 and line.split("=", 1)[1].isalnum()
               for line in lines)


@pytest.mark.parametrize("argv", [["db:frobnicate"], ["runner", "puts 1"], []])
def test_rails_refuses_unknown_or_unsupported_tasks(tmp_path: Path, argv: list[str]) -> None:
    done = run_program(make_app(tmp_path), "rails", *argv)
    assert done.returncode == 1


def test_rails_db_tasks_refuse_without_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in BOOT_ENV.items() if k != "VAPID_PRIVATE_KEY"}
    done = run_program(make_app(tmp_path), "rails", "db:migrate", env=env)
    assert done.returncode == 1 and "VAPID_PRIVATE_KEY" in done.stderr


def test_precompile_needs_node_modules_and_writes_manifest(tmp_path: Path) -> None:
    root = make_app(tmp_path)
    env = {"RAILS_ENV": "production", "SECRET_KEY_BASE_DUMMY": "1"}
    refused = run_program(root, "rails", "assets:precompile", env=env)
    assert refused.returncode == 1 and "yarn install" in refused.stderr
    (root / "node_modules").mkdir()
    done = run_program(root, "rails", "assets:precompile", env=env)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((root / "public" / "packs" / "manifest.json").read_text())
    assert manifest["standin"]["version"] == "4.6.5"
    assert (root / "public" / "packs" / manifest["application.js"]["file"]).is_file()


@pytest.mark.parametrize(("argv", "concurrency", "queues"), [
    (["-c", "25"], 25, []),  # no -q: the process serves upstream's default queues
    (["-c", "5", "-q", "default,8", "-q", "scheduler"], 5, [("default", 8), ("scheduler", 1)]),
    (["--queue=push", "--concurrency=2"], 2, [("push", 1)]),
])
def test_sidekiq_reads_its_arguments(argv: list[str], concurrency: int, queues) -> None:
    from standin import sidekiq

    options = sidekiq.parse(argv)
    assert options["concurrency"] == concurrency
    assert options["queues"] == queues
    assert "scheduler" in [name for name, _weight in sidekiq.DEFAULT_QUEUES]


@pytest.mark.parametrize("argv", [["-c", "many"], ["-q"], ["--foo"], ["-q", "bad queue"]])
def test_sidekiq_rejects_bad_arguments(tmp_path: Path, argv: list[str]) -> None:
    done = run_program(make_app(tmp_path), "sidekiq", *argv)
    assert done.returncode == 1 and "sidekiq (stand-in)" in done.stderr


def test_allowlist_matches_domains_and_subdomains_only() -> None:
    # UserEmailValidator (app/validators/user_email_validator.rb l.25-41 at 1440d55b):
    # the allowlist pattern is anchored at the end, the denylist's is not.
    from standin.email_checks import _list_regexp, domain_variants, on_allowlist

    allow = _list_regexp("a.coop|b.org", anchored=True)
    assert allow is not None
    assert allow.search("x@a.coop") and allow.search("x@mail.a.coop")
    assert allow.search("X@B.ORG")
    assert not allow.search("x@xa.coop") and not allow.search("x@a.coop.evil")
    deny = _list_regexp("spam.example", anchored=False)
    assert deny is not None and deny.search("x@spam.example.org")
    assert _list_regexp("", anchored=True) is None
    # DomainNormalizable.domain_variants (app/models/concerns/domain_normalizable.rb l.21-24)
    assert domain_variants("mail.spam.example") == ["mail.spam.example", "spam.example",
                                                    "example"]
    # EmailMxValidator#on_allowlist? (l.36-40) is String#include? on the raw setting.
    assert on_allowlist("members.coop|b.org", "members.coop")
    assert on_allowlist("members.coop|b.org", "coop")
    assert not on_allowlist("members.coop|b.org", "lab.members.coop")
    assert not on_allowlist("", "members.coop")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, headers: dict[str, str] | None = None):
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    deadline = time.monotonic() + 30
    while True:
        try:
            request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - http
            with opener.open(request, timeout=5) as answer:
                return answer.status, answer.read().decode(), dict(answer.headers)
        except urllib.error.HTTPError as answer:
            return answer.code, answer.read().decode(), dict(answer.headers)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_web_health_host_authorization_and_force_ssl(tmp_path: Path) -> None:
    root = make_app(tmp_path)
    port = free_port()
    config = root / "config" / "puma.rb"
    child = {k: v for k, v in os.environ.items() if k not in BOOT_ENV}
    child.update(BOOT_ENV, PORT=str(port), PYTHONDONTWRITEBYTECODE="1")
    web = subprocess.Popen(
        [sys.executable, str(root / "lib" / "standin" / "cli.py"), "web", "-C", str(config)],
        env=child, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/health")[:2] == (200, "OK")
        assert wait_for(f"{base}/api/v1/instance")[0] == 403
        status, _body, headers = wait_for(f"{base}/api/v1/instance",
                                          {"Host": "social.example.test"})
        assert status == 301
        assert headers["Location"] == "https://social.example.test/api/v1/instance"
    finally:
        web.terminate()
        assert web.wait(timeout=10) == 0


def test_web_refuses_to_boot_without_secrets(tmp_path: Path) -> None:
    root = make_app(tmp_path)
    env = {k: v for k, v in BOOT_ENV.items() if k != "SECRET_KEY_BASE"}
    done = run_program(root, "web", "-C", str(root / "config" / "puma.rb"), env=env)
    assert done.returncode == 1 and "SECRET_KEY_BASE" in done.stderr


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
@pytest.mark.parametrize(("node_env", "extra", "starts"), [
    ("production", {}, True),
    ("development", {}, False),  # reads .env, which does not exist
    ("production", {"REDIS_NAMESPACE": "x"}, False),
])
def test_streaming_contract(tmp_path: Path, node_env: str, extra: dict[str, str],
                            starts: bool) -> None:
    root = make_app(tmp_path)
    port = free_port()
    (root / ".env.production").write_text(
        "DB_HOST=/var/run/postgresql\nDB_NAME=mastodon_production\nDB_USER=mastodon\n")
    child = {k: v for k, v in os.environ.items()
             if not k.startswith(("DB_", "DATABASE_", "REDIS_"))}
    child.update(NODE_ENV=node_env, PORT=str(port), **extra)
    node = subprocess.Popen(["node", "./streaming"], cwd=root, env=child,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if starts:
            assert wait_for(f"http://127.0.0.1:{port}/api/v1/streaming/health")[:2] == (
                200, "OK")
        else:
            _out, err = node.communicate(timeout=30)
            assert node.returncode == 1
            assert "refusing to start" in err
    finally:
        if node.poll() is None:
            node.terminate()
            node.wait(timeout=10)


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("node") is None,
                    reason="needs git and node")
@pytest.mark.parametrize("release", ["v4.5.15", "v4.6.5"])
def test_streaming_of_a_clone_reads_the_env_file_with_npms_dotenv(tmp_path: Path,
                                                                   release: str) -> None:
    """A clone of a release tag, as the role makes it, runs npm's dotenv 17.4.2 (the
    version upstream's yarn.lock:6950 resolves at 1440d55b, `^17` in
    streaming/package.json:21), not an imitation of it."""
    repo, root = tmp_path / "mastodon.git", tmp_path / "live"
    subprocess.run(["bash", str(STANDIN / "build-repo.sh"), "--no-safe-directory", str(repo)],
                   capture_output=True, text=True, check=True, timeout=120)
    subprocess.run(["git", "clone", "-q", "--branch", release, str(repo), str(root)],
                   capture_output=True, text=True, check=True, timeout=60)
    child = {k: v for k, v in os.environ.items()
             if not k.startswith(("DB_", "DATABASE_", "REDIS_"))}
    child.update(NODE_ENV="production", PORT=str(free_port()))

    def start(env_file: str) -> subprocess.Popen[str]:
        (root / ".env.production").write_text(env_file)
        return subprocess.Popen(["node", "./streaming"], cwd=root, env=child, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    tcp = "DB_HOST=db.example.test\nDB_NAME=mastodon_production\nDB_USER=mastodon\n"
    # Node's dotenv ends an unquoted value at `#`: the password is empty, so streaming
    # refuses to start (it would fail to authenticate); quoted, it starts.
    _out, err = start(tcp + "DB_PASS=#secret\n").communicate(timeout=30)
    assert "DB_PASS is not set" in err
    node = start(tcp + "DB_PASS='#secret'\n")
    try:
        assert wait_for(f"http://127.0.0.1:{child['PORT']}/api/v1/streaming/health")[:2] == (
            200, "OK")
    finally:
        node.terminate()
        out, _err = node.communicate(timeout=10)
    assert "dotenv 17.4.2" in out


def test_prometheus_exporter_is_new_in_46_and_serves_metrics(tmp_path: Path) -> None:
    assert not (make_app(tmp_path, "v4.5.15") / "bin" / "prometheus_exporter").exists()
    root = make_app(tmp_path)
    assert (root / "bin" / "prometheus_exporter").is_file()
    port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, str(root / "lib" / "standin" / "cli.py"), "prometheus_exporter",
         "-p", str(port), "-b", "127.0.0.1", "--prefix", "mastodon_"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, body, _headers = wait_for(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'mastodon_standin_up{version="4.6.5"} 1' in body
    finally:
        exporter.terminate()
        assert exporter.wait(timeout=10) == 0
    refused = run_program(root, "prometheus_exporter", "--bogus")
    assert refused.returncode == 1


def test_exporter_serves_mastodon_metrics_only_from_enabled_clients(tmp_path: Path) -> None:
    """Puma reports to the separate exporter only when MASTODON_PROMETHEUS_EXPORTER_ENABLED
    is 'true' (config/puma.rb:19-43 at 1440d55b: process metrics with type 'puma', l.31),
    through PrometheusExporter::Client.default at PROMETHEUS_EXPORTER_HOST and
    PROMETHEUS_EXPORTER_PORT (prometheus_exporter 2.3.1, Gemfile.lock:615,
    lib/prometheus_exporter/client.rb:55-56); the exporter serves its own metrics
    either way. The port and address are what the mastodon role writes."""
    root = make_app(tmp_path)
    port = free_port()
    config = str(root / "config" / "puma.rb")
    processes: list[subprocess.Popen[str]] = []

    def start(program: str, *argv: str, extra: dict[str, str] | None = None
              ) -> subprocess.Popen[str]:
        child = {k: v for k, v in os.environ.items() if k not in BOOT_ENV}
        child.update(BOOT_ENV, PYTHONDONTWRITEBYTECODE="1", **(extra or {}))
        processes.append(subprocess.Popen(
            [sys.executable, str(root / "lib" / "standin" / "cli.py"), program, *argv],
            env=child, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True))
        return processes[-1]

    def metrics() -> str:
        return wait_for(f"http://127.0.0.1:{port}/metrics")[1]

    client = {"PROMETHEUS_EXPORTER_HOST": "127.0.0.1", "PROMETHEUS_EXPORTER_PORT": str(port)}
    try:
        start("prometheus_exporter", "-p", str(port), "-b", "127.0.0.1", "--prefix", "mastodon_")
        assert "mastodon_standin_up" in metrics()
        webs = {}
        for enabled in ("false", "true"):
            web_port = free_port()
            webs[enabled] = start("web", "-C", config, extra={
                **client, "PORT": str(web_port), "MASTODON_PROMETHEUS_EXPORTER_ENABLED": enabled})
            assert wait_for(f"http://127.0.0.1:{web_port}/health")[:2] == (200, "OK")
        deadline = time.monotonic() + 30
        while f'mastodon_rss{{type="puma",pid="{webs["true"].pid}"}}' not in metrics():
            assert time.monotonic() < deadline, metrics()
            time.sleep(0.2)
        assert f'pid="{webs["false"].pid}"' not in metrics()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.parametrize(("server_version_num", "code"), [("130012", 1), ("140005", 0)])
def test_pre_migration_check_needs_postgresql_14(tmp_path: Path, server_version_num: str,
                                                 code: int) -> None:
    """A fake psql answers the version query, so no server is needed."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "psql").write_text(
        f"#!/bin/sh\ncat >/dev/null\necho '[{{\"v\": \"{server_version_num}\"}}]'\n")
    (fake / "psql").chmod(0o755)
    env = {**BOOT_ENV, "PATH": f"{fake}:{os.environ['PATH']}"}
    done = run_program(make_app(tmp_path), "rails", "db:pre_migration_check", env=env)
    assert done.returncode == code, done.stderr
    if code:
        assert "requires PostgreSQL 14.0 or newer" in done.stderr

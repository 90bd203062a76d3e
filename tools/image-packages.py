"""The Debian packages the test images carry so that no scenario spends its time in apt:
every package a role or a scenario installs with the apt module, read from where each
is named (the roles' vars files and tasks, the scenarios' playbooks), for one Debian
release. tools/build-test-image.sh installs the `install` set; the roles still run their
apt tasks, which then find those packages present, as on a host that already has them.

Packages that bring a service (SERVICES) are only downloaded into the image's apt
archive (the `download` set): a service installed in the image would run on every
host, and an app host with a local PostgreSQL or a password-less Redis could hide a
role that talks to the wrong server. The role installs them for real, from the archive.

    python3 tools/image-packages.py 13|12 install|download   (one package per line)
"""

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
APT = {"ansible.builtin.apt", "apt"}
# A role chooses between Debian's nodejs and a release tarball per host
# (mastodon_node_source); a Debian nodejs already in the image would stand in for the
# tarball's node on hosts that ask for the tarball.
LEFT_OUT = {"nodejs"}
# Packages whose install starts a service (or arms a timer) on the host.
SERVICES = re.compile(
    r"^(postgresql(-[0-9]+)?|redis-server|nginx|prometheus-node-exporter|certbot)$")
LIST_LITERAL = re.compile(r"\[([^\[\]]*)\]")
QUOTED = re.compile(r"'([a-z0-9][a-z0-9.+-]*)'")


def packages(debian: str, kind: str) -> list[str]:
    names = (set(_vars_packages(debian)) | set(_task_packages(debian))) - LEFT_OUT
    return sorted(name for name in names if bool(SERVICES.match(name)) == (kind == "download"))


def _vars_packages(debian: str) -> Iterator[str]:
    """Every `*_packages` list in the roles' vars: main.yml and the release's own file."""
    for path in sorted(REPO.glob("roles/*/vars/*.yml")):
        if path.name not in ("main.yml", f"Debian-{debian}.yml"):
            continue
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if key.endswith("_packages") and isinstance(value, list):
                yield from (item for item in value if isinstance(item, str))


def _task_packages(debian: str) -> Iterator[str]:
    release_vars = REPO / f"roles/postgresql/vars/Debian-{debian}.yml"
    postgresql = yaml.safe_load(release_vars.read_text())["__postgresql_debian_version"]
    files = sorted(REPO.glob("roles/*/tasks/*.yml")) + sorted(REPO.glob("molecule/**/*.yml"))
    for path in files:
        for task in _tasks(yaml.safe_load(path.read_text())):
            args = next((task[key] for key in APT if key in task), None)
            if not isinstance(args, dict) or "name" not in args:
                continue
            for name in args["name"] if isinstance(args["name"], list) else [args["name"]]:
                # The release's own PostgreSQL, as the role's vars choose it by default.
                name = re.sub(r"{{\s*__postgresql_version\s*}}", str(postgresql), str(name))
                if "{{" not in name:
                    yield name
                else:
                    # An expression: the package names it writes out, in list literals
                    # (its variables are vars lists, read above).
                    for listed in LIST_LITERAL.findall(name):
                        yield from QUOTED.findall(listed)


def _tasks(node: object) -> Iterator[dict]:
    """Every task of a tasks file or playbook, inside blocks and plays too."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            yield from _tasks(node.get(key))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("12", "13") \
            or sys.argv[2] not in ("install", "download"):
        sys.exit("usage: image-packages.py 13|12 install|download")
    print("\n".join(packages(sys.argv[1], sys.argv[2])))

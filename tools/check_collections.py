"""Check that the installed Ansible collections satisfy requirements.yml.

Galaxy is often unreachable (CI machines, air-gapped control nodes); the
collections bundled with the pinned `ansible` package then have to do. This
check makes that an explicit, tested fact instead of a hope.
Exit 0 when every listed collection is installed within its range, 1 otherwise.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml
from ansible.module_utils.compat.version import LooseVersion


def installed_collections() -> dict[str, str]:
    listing = subprocess.run(  # noqa: S603 - fixed argv, our own venv's ansible-galaxy
        [str(Path(sys.executable).with_name("ansible-galaxy")), "collection", "list",
         "--format", "json"],
        check=True, capture_output=True, text=True,
    )
    found: dict[str, str] = {}
    for collections in json.loads(listing.stdout).values():
        for name, info in collections.items():
            found.setdefault(name, info["version"])
    return found


def satisfies(version: str, spec: str) -> bool:
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
           "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        op = next(o for o in (">=", "<=", "==", "!=", ">", "<") if clause.startswith(o))
        if not ops[op](LooseVersion(version), LooseVersion(clause[len(op):].strip())):
            return False
    return True


def main(requirements: str) -> int:
    wanted = yaml.safe_load(Path(requirements).read_text())["collections"]
    found = installed_collections()
    problems = []
    for item in wanted:
        name, spec = item["name"], item.get("version", "*")
        if name not in found:
            problems.append(f"{name}: not installed (wanted {spec})")
        elif spec != "*" and not satisfies(found[name], spec):
            problems.append(f"{name}: {found[name]} installed, wanted {spec}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.yml"))

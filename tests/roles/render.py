"""Render one of a role's templates through Ansible, on this machine, changing nothing
outside a temporary directory.

The role's defaults and vars (and one Debian release's vars file, when the role has
them) are loaded as the role would load them, the test's variables override them as
an inventory would, and `ansible.builtin.template` writes the result, so the text
checked is what a host would get.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

PLAYBOOK = """\
- name: Render {template} of {role}
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: {vars_files}
  tasks:
    - name: Render the template
      ansible.builtin.template:
        src: {source}
        dest: {dest}
        mode: "0600"
"""


def render(tmp_path: Path, role: str, template: str, variables: dict,
           debian: str = "Debian-13") -> str:
    """Text of roles/ROLE/templates/TEMPLATE rendered with the role's defaults and vars
    overridden by VARIABLES. Fails the test with Ansible's output when rendering fails."""
    role_dir = REPO / "roles" / role
    vars_files = [role_dir / "defaults/main.yml", role_dir / "vars/main.yml",
                  role_dir / f"vars/{debian}.yml"]
    out = tmp_path / f"rendered-{Path(template).name}"
    playbook = tmp_path / "render.yml"
    playbook.write_text(PLAYBOOK.format(
        role=role, template=template, source=role_dir / "templates" / template, dest=out,
        vars_files=json.dumps([str(path) for path in vars_files if path.exists()])))
    extra = tmp_path / "render-vars.json"
    extra.write_text(json.dumps({"ansible_python_interpreter": sys.executable, **variables}))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        # The shared plugins of ansible.cfg plus the role's own, as in a play.
        "ANSIBLE_FILTER_PLUGINS": f"{REPO / 'plugins/filter'}:{role_dir / 'filter_plugins'}",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "true",
    }
    result = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-e", f"@{extra}", str(playbook)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return out.read_text()

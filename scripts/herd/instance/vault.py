"""An instance's secrets, generated once, kept only in an ansible-vault file.

Encryption and decryption go through Ansible's own vault library
(ansible.parsing.vault), so `ansible-playbook --vault-password-file` reads the file
as it reads any vault; the plaintext exists only in memory, never on disk.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from herd.errors import ConfigError

# vault variable -> how to make it. The instance's inventory refers to each as
# "{{ vault_... }}" (inventories/production's convention); the roles' preflight
# checks each value (length, form) like any inventory's.
GENERATORS: dict[str, Callable[[], str]] = {
    # 43 URL-safe characters: at least 16 (the roles' minimum), and nothing the
    # .env.production loaders or a PostgreSQL connection string would read otherwise.
    "vault_postgresql_mastodon_password": lambda: secrets.token_urlsafe(32),
    "vault_redis_password": lambda: secrets.token_urlsafe(32),
    # 32 random bytes, base64 (44 characters ending in =): the backup role's key form.
    "vault_backup_encryption_key": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
}
# The role variable each vault variable feeds.
ROLE_VARIABLES = {
    "postgresql_mastodon_password": "vault_postgresql_mastodon_password",
    "redis_password": "vault_redis_password",
    "backup_encryption_key": "vault_backup_encryption_key",
}
PASSWORD_ENV = "ANSIBLE_VAULT_PASSWORD_FILE"  # noqa: S105 - the variable's name, no secret


class Vault:
    def __init__(self, password_file: str | os.PathLike[str] | None):
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import VaultLib, get_file_vault_secret

        password_file = password_file or os.environ.get(PASSWORD_ENV)
        if not password_file:
            raise ConfigError(f"vault password: give --vault-password-file FILE or set "
                              f"{PASSWORD_ENV}; the instance's secrets are encrypted with it")
        if not Path(password_file).is_file():
            raise ConfigError(f"vault password: {password_file} is not a file")
        # Ansible's own reading of a password file (a script when executable).
        self.secret = get_file_vault_secret(filename=str(password_file), loader=DataLoader())
        self.secret.load()
        self.lib = VaultLib([("default", self.secret)])

    def encrypt(self, values: Mapping[str, str]) -> bytes:
        text = "---\n" + yaml.safe_dump(dict(values), sort_keys=True, default_flow_style=False)
        return self.lib.encrypt(text.encode(), secret=self.secret)

    def decrypt(self, path: Path) -> dict[str, str]:
        from ansible.errors import AnsibleError

        try:
            plaintext = self.lib.decrypt(path.read_bytes())
        except AnsibleError as error:
            raise ConfigError(f"{path}: cannot be decrypted with this vault password "
                              f"({error}); use the fleet's password") from None
        return yaml.safe_load(plaintext) or {}


def secrets_for(existing: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """The instance's secrets: the stored ones kept as they are, missing ones made.
    Returns them and whether any was made."""
    values = dict(existing)
    made = False
    for name, generate in GENERATORS.items():
        if not values.get(name):
            values[name] = generate()
            made = True
    return values, made

"""herd: a hosting co-op's fleet of managed Mastodon instances.

    herd instance order ORDER [--fleet DIR] [--vault-password-file FILE] [--dry-run]
    herd instance list [--fleet DIR] [--facts] [--vault-password-file FILE] [--json]
    herd instance deploy NAME [--fleet DIR] [--vault-password-file FILE] [--dry-run]
                              [-- ANSIBLE-PLAYBOOK-OPTIONS]

The vault password file defaults to $ANSIBLE_VAULT_PASSWORD_FILE.
Exit codes: 0 ok, 2 refused (bad order, a name or domain taken, a full machine,
unknown plan or instance; nothing written), 3 ansible failed, 7 another herd command
is writing the fleet.
"""

import argparse
import sys

from herd.cli._main import guarded
from herd.instance import deploy, listing, order
from herd.instance.fleet import DEFAULT_FLEET, Fleet
from herd.instance.vault import Vault
from herd.log import StepLog


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="herd", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    areas = main.add_subparsers(dest="area", required=True)
    instance = areas.add_parser("instance", help="order, list and deploy the fleet's instances")
    commands = instance.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument("--fleet", default=str(DEFAULT_FLEET),
                             help="fleet inventory directory (default %(default)s)")
        command.add_argument("--vault-password-file", default=None,
                             help="ansible-vault password file (default "
                                  "$ANSIBLE_VAULT_PASSWORD_FILE)")

    placing = commands.add_parser("order", help="check an order, then add its instance")
    placing.add_argument("order", help="order file, YAML or JSON (order.schema.json)")
    placing.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    common(placing)
    listing_ = commands.add_parser("list", help="one row per instance")
    listing_.add_argument("--facts", action="store_true",
                          help="also read what the roles recorded on the hosts (via ansible)")
    listing_.add_argument("--json", action="store_true", help="rows as a JSON list")
    common(listing_)
    deploying = commands.add_parser("deploy", help="run playbooks/site.yml for one instance")
    deploying.add_argument("name", help="the instance's name")
    deploying.add_argument("--dry-run", action="store_true", help="print the command only")
    deploying.epilog = "Options after -- go to ansible-playbook (e.g. -- --check --diff)."
    common(deploying)
    return main


def run(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # What follows `--` goes to ansible-playbook untouched (herd instance deploy).
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser().parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if extra and args.command != "deploy":
        parser().error("options after -- are for herd instance deploy only")
    fleet = Fleet(args.fleet)
    log = StepLog(f"herd instance {args.command}")
    if args.command == "order":
        order.place(fleet, args.order, Vault(args.vault_password_file), log,
                    dry_run=args.dry_run)
        return 0
    if args.command == "list":
        rows = listing.inventory_rows(fleet)
        if args.facts:
            listing.add_facts(fleet, rows, args.vault_password_file)
        listing.show(rows, sys.stdout, args.json)
        return 0
    return deploy.deploy(fleet, args.name, log, args.vault_password_file, extra,
                         dry_run=args.dry_run)


def main(argv: list[str] | None = None) -> int:
    return guarded(lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())

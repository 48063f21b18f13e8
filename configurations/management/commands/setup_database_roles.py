"""Create or update the owner, application and reader roles, their grants and the row-level security."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configurations.services import database_roles

MASK = "'********'"


class Command(BaseCommand):
    help = (
        "PostgreSQL only, as a database superuser, before the first migrate and after every migrate: create the "
        "owner, application and reader roles, hand the tables to the owner, grant least privilege and enable the "
        "spec's row-level security. Idempotent."
    )

    def add_arguments(self, parser):
        defaults = database_roles.Roles()
        parser.add_argument("--owner-role", default=defaults.owner)
        parser.add_argument("--app-role", default=defaults.app)
        parser.add_argument("--reader-role", default=defaults.reader)
        for kind in ("owner", "app", "reader"):
            parser.add_argument(f"--{kind}-password", help="Set (or change) this role's password.")
        parser.add_argument(
            "--reader-environment",
            action="append",
            dest="reader_environments",
            metavar="ENV",
            help="An environment the reader role may read (repeatable); without it the reader keeps what it had.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Print the SQL (passwords masked); change nothing.")

    def handle(self, *args, owner_role, app_role, reader_role, reader_environments, dry_run, **options):
        if connection.vendor != "postgresql":
            raise CommandError(_("database roles are PostgreSQL's; on SQLite there is one local user (docs/schema.md)"))
        if not database_roles.is_superuser():
            raise CommandError(_("run this as a database superuser (it creates roles and changes table owners)"))
        passwords = {kind: options[f"{kind}_password"] for kind in ("owner", "app", "reader")}
        try:
            roles = database_roles.Roles(owner=owner_role, app=app_role, reader=reader_role)
            sql = database_roles.statements(roles, passwords=passwords, reader_environments=reader_environments)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if dry_run:
            for statement in sql:
                self.stdout.write(_masked(statement, passwords) + ";")
            return
        database_roles.apply(sql)
        applied = ngettext("%(n)d statement", "%(n)d statements", len(sql)) % {"n": len(sql)}
        self.stdout.write(_("Roles ready: owner %(owner)s, application %(app)s, reader %(reader)s; %(applied)s "
                            "applied.") % {"owner": roles.owner, "app": roles.app, "reader": roles.reader,
                                           "applied": applied})  # fmt: skip
        if not database_roles.is_migrated():
            self.stdout.write(_("The schema is not migrated yet: run `migrate` connected as %(owner)s, then run "
                                "setup_database_roles again to grant the tables and enable row-level security.")
                              % {"owner": roles.owner})  # fmt: skip


def _masked(statement: str, passwords: dict[str, str | None]) -> str:
    for password in filter(None, passwords.values()):
        statement = statement.replace("'" + password.replace("'", "''") + "'", MASK)
    return statement

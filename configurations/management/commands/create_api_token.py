"""Create an API token; its value is printed once, alone on the last line."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from configurations.management.auditing import AuditedCommand
from configurations.services import tokens


class Command(AuditedCommand):
    help = "Create an API token for --user, scoped to environments (and categories); prints the token once."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("name")
        parser.add_argument("--user", required=True, help="The owner: the token acts as this user")
        parser.add_argument("--environment", action="append", required=True, help="Repeat for several")
        parser.add_argument("--category", action="append", default=[], help="Repeat for several (default: all)")
        parser.add_argument("--write", action="store_true", help="read-write (default: read)")
        parser.add_argument("--secrets", action="store_true", help="Return secret values decrypted")
        parser.add_argument("--expires-in", type=int, metavar="DAYS", help="Days until it expires (default: never)")

    def handle(self, *args, **options):
        owner = get_user_model().objects.filter(username=options["user"]).first()
        if owner is None:
            raise CommandError(_("user: no user is named %(user)r. Nothing was created.") % {"user": options["user"]})
        try:
            created = tokens.create_token(
                name=options["name"],
                owner=owner,
                environments=options["environment"],
                categories=options["category"],
                write=options["write"],
                secrets=options["secrets"],
                expires_in_days=options["expires_in"],
                actor=self.actor,
            )
        except ValidationError as error:
            problems = [f"{field}: {message}" for field, messages in error.message_dict.items() for message in messages]
            raise CommandError("\n".join([*problems, _("Nothing was created.")])) from None
        token = created.token
        self.stdout.write(_(
            "Created API token %(name)r for %(owner)s: %(access)s, environments %(environments)s, categories "
            "%(categories)s, secrets %(secrets)s, expires %(expires)s. It is shown once, below; only a digest of it is "
            "kept."
        ) % {
            "name": token.name, "owner": owner.get_username(), "access": token.access,
            "environments": ", ".join(token.environments), "categories": ", ".join(token.categories) or _("all"),
            "secrets": _("returned") if token.secrets else "null",
            "expires": token.expires_at.isoformat() if token.expires_at else _("never"),
        })  # fmt: skip
        self.stdout.write(created.plaintext)

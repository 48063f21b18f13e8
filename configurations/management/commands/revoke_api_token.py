"""Revoke an API token by name: it answers 401 from the next request on."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from configurations.management.auditing import AuditedCommand
from configurations.services import tokens


class Command(AuditedCommand):
    help = "Revoke the API token NAME."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("name")

    def handle(self, *args, name: str, **options):
        try:
            token = tokens.revoke_token(name, actor=self.actor)
        except ValidationError as error:
            raise CommandError(error.message_dict["name"][0]) from None
        self.stdout.write(_("Revoked API token %(name)r (revoked at %(when)s).") % {
            "name": token.name, "when": token.revoked_at.isoformat()})  # fmt: skip

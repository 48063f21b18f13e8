"""Remove a webhook endpoint with its secrets and deliveries; its history keeps the record."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from configurations.data.models import WebhookEndpoint
from configurations.management.auditing import AuditedCommand
from configurations.services import webhooks


class Command(AuditedCommand):
    help = "Remove the webhook endpoint NAME (its pending deliveries are dropped). Needs --actor, a superuser."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("name")
        parser.add_argument("--reason", help="Recorded in the endpoint's history.")

    def handle(self, *args, name: str, reason, **options):
        if self.actor is None:
            raise CommandError(_("Removing a webhook endpoint needs --actor (a superuser); nothing was changed."))
        try:
            webhooks.remove_endpoint(name, actor=self.actor, reason=reason)
        except WebhookEndpoint.DoesNotExist:
            raise CommandError(_("No webhook endpoint is named %(name)r.") % {"name": name}) from None
        except PermissionDenied as error:
            raise CommandError(str(error)) from None
        self.stdout.write(_("Removed webhook endpoint %(name)r.") % {"name": name})

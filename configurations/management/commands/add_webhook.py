"""Add a webhook endpoint; its signing secret is printed once, on the last line."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from configurations.core.vocabulary import ENVIRONMENTS
from configurations.data.models import EventType, WebhookEndpoint
from configurations.management.auditing import AuditedCommand
from configurations.services import webhooks


class Command(AuditedCommand):
    help = (
        "Add the webhook endpoint NAME that receives the changes of --environment (repeat it for several), "
        "optionally only of --category and --key patterns and --event types. Needs --actor, a superuser. The "
        "signing secret (whsec_...) is printed once, on the last line: store it in the receiver."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("name")
        parser.add_argument("--url", required=True, help="https://... (http:// only for CONFIG_WEBHOOK_ALLOWED_HOSTS)")
        parser.add_argument("--environment", action="append", required=True, choices=ENVIRONMENTS)
        parser.add_argument("--category", action="append", default=[], help="Only these categories (repeatable).")
        parser.add_argument("--key", action="append", default=[], dest="keys", help="Key patterns, e.g. auth_*.")
        parser.add_argument("--event", action="append", default=[], choices=EventType.values, dest="events")
        parser.add_argument("--description", default="")
        parser.add_argument("--reason", help="Recorded in the endpoint's history.")

    def handle(self, *args, name, url, environment, category, keys, events, description, reason, **options):
        if self.actor is None:
            raise CommandError(_("Adding a webhook endpoint needs --actor (a superuser); nothing was changed."))
        if WebhookEndpoint.objects.filter(name=name).exists():
            raise CommandError(
                _("A webhook endpoint named %(name)r exists already; nothing was changed.") % {"name": name}
            )
        scope = {"environments": environment, "categories": category, "key_patterns": keys, "event_types": events}
        try:
            endpoint, secret = webhooks.add_endpoint(
                name, url, actor=self.actor, reason=reason, description=description, **scope
            )
        except ValidationError as error:
            problems = "; ".join(f"--{k.replace('_', '-')}: {' '.join(v)}" for k, v in error.message_dict.items())
            raise CommandError(_("Nothing was added: %(problems)s") % {"problems": problems}) from None
        except PermissionDenied as error:
            raise CommandError(str(error)) from None
        self.stdout.write(_("Added webhook endpoint %(name)r -> %(url)s (%(envs)s).") % {
            "name": endpoint.name, "url": endpoint.url, "envs": ", ".join(environment)})  # fmt: skip
        self.stdout.write(_("Its signing secret, shown only now:"))
        self.stdout.write(secret)

"""Print a new entry for CONFIG_ENCRYPTION_KEYS."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError

from configurations.core import crypto


class Command(BaseCommand):
    help = "Print a new '<key id>:<key>' entry for CONFIG_ENCRYPTION_KEYS (put it first to make it the active key)."

    def add_arguments(self, parser):
        parser.add_argument("--id", dest="key_id", help="Key id (default: k<YYYYMMDDHHMMSS>).")

    def handle(self, *args, key_id: str | None, **options):
        key_id = key_id or datetime.datetime.now(datetime.UTC).strftime("k%Y%m%d%H%M%S")
        try:
            self.stdout.write(crypto.new_key_entry(key_id))
        except crypto.KeyConfigurationError as error:
            raise CommandError(str(error)) from None

"""Apply a provider template to an environment from the command line."""

from __future__ import annotations

import os

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configurations import services
from configurations.management.auditing import AuditedCommand


class Command(AuditedCommand):
    help = "Apply a provider template (e.g. gmail) to an environment, all keys or none."
    reviewable = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("provider")
        parser.add_argument("--category", default="smtp")
        parser.add_argument("--environment", required=True)
        parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="A template variable.")
        parser.add_argument(
            "--var-from-env",
            action="append",
            default=[],
            metavar="NAME",
            help="Read variable NAME from the process environment (keeps secrets off the command line).",
        )
        parser.add_argument("--reason", help="Recorded in the history (default: 'Applied template <provider>').")
        parser.add_argument("--dry-run", action="store_true", help="Print the preview; write nothing.")

    def handle(self, *args, provider, category, environment, var, var_from_env, reason, dry_run, **options):
        variables = self._variables(var, var_from_env)
        if options["change_request"]:
            return self._request(provider, category, environment, variables, reason, options["title"])
        try:
            application = services.apply_template(
                provider=provider,
                category=category,
                environment=environment,
                variables=variables,
                actor=self.actor,
                reason=reason,
                dry_run=dry_run,
            )
        except ValidationError as error:
            raise CommandError(_("nothing was written:") + "\n  " + "\n  ".join(error.messages)) from None
        self._print_preview(application, dry_run)

    def _request(self, provider, category, environment, variables, reason, title):
        where = {"provider": provider, "category": category, "environment": environment}
        try:
            items = services.template_changes(**where, variables=variables, actor=self.actor)
            if not items:
                self.stdout.write(_("Nothing would change, so no change request was opened."))
                return
            title = title or _("Apply template %(provider)s to %(category)s") % {"provider": provider,
                                                                                  "category": category}  # fmt: skip
            opened = services.open_request(environment, items, title=title, reason=reason or "", actor=self.actor)
        except ValidationError as error:
            raise CommandError(_("no change request was opened:") + "\n  " + "\n  ".join(error.messages)) from None
        self.report_opened([opened])

    def _variables(self, pairs: list[str], from_env: list[str]) -> dict[str, str]:
        variables = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep or not name:
                raise CommandError(_("--var %(pair)r: expected NAME=VALUE") % {"pair": pair})
            variables[name] = value
        for name in from_env:
            if name not in os.environ:
                raise CommandError(_("--var-from-env %(name)s: not set in the environment") % {"name": name})
            variables[name] = os.environ[name]
        return variables

    def _print_preview(self, application: services.TemplateApplication, dry_run: bool) -> None:
        template = application.template
        where = {"provider": template.provider_name, "category": template.category,
                 "environment": application.environment}  # fmt: skip
        if dry_run:
            self.stdout.write(_("Would apply template %(provider)s to %(category)s in %(environment)s:") % where)
        else:
            self.stdout.write(_("Applied template %(provider)s to %(category)s in %(environment)s:") % where)
        for row in application.preview():
            if row["current"] is None:  # a new key: nothing before it
                self.stdout.write(f"  {row['status']:<8} {row['key']}: {row['new']}")
            else:
                self.stdout.write(f"  {row['status']:<8} {row['key']}: {row['current']} -> {row['new']}")
        written = sum(1 for row in application.preview() if row["status"] != "same")
        if dry_run:
            self.stdout.write(ngettext("%(n)d key would change.", "%(n)d keys would change.", written) % {"n": written})
        else:
            self.stdout.write(ngettext("%(n)d key changed.", "%(n)d keys changed.", written) % {"n": written})

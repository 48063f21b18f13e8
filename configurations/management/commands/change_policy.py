"""Show or set an environment's review policy: how many approvals a change there needs."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from configurations import services
from configurations.core.vocabulary import ENVIRONMENTS
from configurations.management.auditing import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Print ENVIRONMENT's review policy, or change it: --approvals N (0 = no review, at most 10) and "
        "--self-approval/--no-self-approval. Changing it needs --actor, a superuser."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("environment", choices=ENVIRONMENTS)
        parser.add_argument("--approvals", type=int, help="Approvals a change needs (0: none, changes go live).")
        parser.add_argument("--self-approval", action="store_true", default=None, help="An author may approve.")
        parser.add_argument("--no-self-approval", dest="self_approval", action="store_false")
        parser.add_argument("--reason", help="Recorded in the policy's history.")

    def handle(self, *args, environment: str, approvals, self_approval, reason, **options):
        if approvals is not None or self_approval is not None:
            if self.actor is None:
                raise CommandError(_("Changing a review policy needs --actor (a superuser); nothing was changed."))
            try:
                services.set_policy(
                    environment, approvals=approvals, self_approval=self_approval, actor=self.actor, reason=reason
                )
            except ValidationError as error:
                raise CommandError("; ".join(f"--{k}: {' '.join(v)}" for k, v in error.message_dict.items())) from None
        rules = services.policy(environment)
        needed = rules.required_approvals
        review = _("%(n)d approval(s) needed") % {"n": needed} if needed else _("no review (changes go live at once)")
        self_approval = _("self-approval allowed") if rules.allow_self_approval else _("self-approval not allowed")
        bypass = services.reviews.bypass_permission(environment)
        self.stdout.write(_("%(environment)s: %(review)s; %(self_approval)s; bypass: the permission %(bypass)s, with a "
                            "reason.") % {"environment": environment, "review": review, "self_approval": self_approval,
                                          "bypass": bypass})  # fmt: skip

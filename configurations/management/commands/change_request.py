"""Operators' view of change requests: list, show, approve, reject, apply, cancel."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from configurations import services
from configurations.core.vocabulary import SECRET_MASK
from configurations.data.models import ChangeRequest
from configurations.management.auditing import AuditedCommand


class Command(AuditedCommand):
    help = "list | show ID | approve ID | reject ID --reason R | apply ID | cancel ID, as --actor USER."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("action", choices=["list", "show", "approve", "reject", "apply", "cancel"])
        parser.add_argument("id", nargs="?", type=int)
        parser.add_argument("--environment", help="list: only this environment's requests.")
        parser.add_argument("--reason", default="", help="reject/cancel: why.")

    def handle(self, *args, action: str, id: int | None, environment: str | None, reason: str, **options):
        if action == "list":
            return self._list(environment)
        request = self._request(id)
        try:
            if action == "approve":
                request = services.approve(request, actor=self.actor)
            elif action == "reject":
                request = services.reject(request, actor=self.actor, reason=reason)
            elif action == "apply":
                request = services.apply_request(request, actor=self.actor)
            elif action == "cancel":
                request = services.cancel(request, actor=self.actor, reason=reason)
        except ValidationError as error:
            raise CommandError(" ".join(m for ms in error.message_dict.values() for m in ms)) from None
        except PermissionDenied as error:
            raise CommandError(_("%(error)s Nothing was changed.") % {"error": error}) from None
        self._show(request)

    def _request(self, request_id: int | None) -> ChangeRequest:
        if request_id is None:
            raise CommandError(_("Give the request's ID."))
        request = ChangeRequest.objects.filter(pk=request_id).select_related("author").first()
        if request is None:
            raise CommandError(_("No change request #%(id)s.") % {"id": request_id})
        return request

    def _list(self, environment: str | None) -> None:
        requests = ChangeRequest.objects.select_related("author").order_by("-pk")
        for request in requests.filter(environment=environment) if environment else requests:
            fields = (f"#{request.pk}", request.environment, request.state, str(request.author), request.title)
            self.stdout.write("\t".join(fields))

    def _show(self, request: ChangeRequest) -> None:
        approvals = services.change_requests.valid_approvals(request)
        head = _("#%(id)s %(title)s [%(environment)s] %(state)s, by %(author)s") % {
            "id": request.pk, "title": request.title, "environment": request.environment, "state": request.state,
            "author": request.author}  # fmt: skip
        self.stdout.write(_("%(head)s, %(n)d valid approval(s)") % {"head": head, "n": approvals})
        for item in request.items.order_by("category", "config_key"):
            shown = _("delete") if item.deletes else SECRET_MASK if item.is_encrypted else repr(item.value)
            self.stdout.write(_("  %(key)s -> %(shown)s (based on #%(base)s)") % {
                "key": f"{item.category}.{item.config_key}", "shown": shown, "base": item.base_version})  # fmt: skip
        if request.conflicts:
            self.stdout.write(_("  conflicts: %(conflicts)s") % {"conflicts": request.conflicts})

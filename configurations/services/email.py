"""Sending a test email through an environment's smtp settings."""

from __future__ import annotations

from django.core.mail import EmailMessage

from .. import runtime
from ..data.models import SentTestEmail
from ..runtime import mail
from . import permissions


def send_test_email(*, environment: str, recipient: str, actor=None) -> SentTestEmail:
    """Send a test message through an environment's smtp settings; record and return the attempt.

    The result is success, or the failure in plain words (connection refused, authentication failed, TLS
    failure, timeout, ...) within CONFIG_SMTP_TIMEOUT; it never contains a secret.
    """
    # Sending uses the environment's credentials: only someone who may edit it may do that.
    permissions.require_edit_each(actor, [environment], doing="send mail with the settings of")
    runtime.reload(environment)  # the values as they are now, not as this process last saw them
    settings = None
    try:
        settings = mail.smtp_settings(environment)
        backend = mail.ConfigurationEmailBackend(environment=environment)
        EmailMessage(
            from_email=settings.from_email,
            subject=f"Test email from configurations ({environment})",
            body=f"This test message was sent through the smtp settings of {environment} "
            f"({settings.host}:{settings.port}), from {settings.from_email}.",
            to=[recipient],
            connection=backend,
        ).send()
    except Exception as error:
        succeeded, result = False, mail.explain(error, settings)
    else:
        succeeded, result = True, f"Sent to {recipient} through {settings.host}:{settings.port}."
    actor_id = getattr(actor, "pk", None)
    return SentTestEmail.objects.create(
        environment=environment, recipient=recipient, sent_by_id=actor_id, succeeded=succeeded, result=result
    )

"""Email through the smtp category: ``EMAIL_BACKEND = "configurations.mail.ConfigurationEmailBackend"``.

Host, port, secure, auth_user and auth_pass are read from configurations.runtime when a connection opens, so
a change made in the admin applies to the next email without a restart. ``secure`` = true means implicit TLS
on port 465 and STARTTLS on any other port (587), as the metadata's help text says.
"""

from __future__ import annotations

import dataclasses
import smtplib
import socket
import ssl

from django.conf import settings as django_settings
from django.core.mail.backends import smtp

from .. import conf, runtime
from ..core.vocabulary import SECRET_MASK, ConfigurationNotFound, label

IMPLICIT_TLS_PORT = 465


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    """The smtp category of an environment, as the email backend uses it."""

    host: str
    port: int
    use_ssl: bool
    use_tls: bool
    username: str
    password: str
    from_email: str


def smtp_settings(environment: str | None = None) -> SmtpSettings:
    """The smtp category of an environment as connection settings; ConfigurationNotFound without a host."""
    values = runtime.get_category("smtp", environment=environment)
    if not values.get("host"):
        env = environment or conf.runtime_environment()
        raise ConfigurationNotFound(f"SMTP is not configured: {label('smtp', 'host', env)} has no value")
    port = int(values.get("port") or 25)
    secure = values.get("secure") in (True, "true")
    return SmtpSettings(
        host=values["host"],
        port=port,
        use_ssl=secure and port == IMPLICIT_TLS_PORT,
        use_tls=secure and port != IMPLICIT_TLS_PORT,
        # No username: a relay without authentication (Django's backend then sends no AUTH).
        username=values.get("auth_user") or "",
        password=(values.get("auth_pass") or "") if values.get("auth_user") else "",
        from_email=values.get("from_email") or django_settings.DEFAULT_FROM_EMAIL,
    )


class ConfigurationEmailBackend(smtp.EmailBackend):
    """Django's SMTP backend, configured from the smtp category at send time."""

    def __init__(self, fail_silently: bool = False, *, environment: str | None = None, **kwargs) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.config_environment = environment
        self.timeout = conf.smtp_timeout()

    def open(self):
        if self.connection is None:
            self._configure(smtp_settings(self.config_environment))
        return super().open()

    def send_messages(self, email_messages):
        """Messages that kept Django's DEFAULT_FROM_EMAIL are sent from the smtp category's ``from_email``."""
        sender = None
        for message in email_messages:
            if message.from_email == django_settings.DEFAULT_FROM_EMAIL:
                sender = sender or smtp_settings(self.config_environment).from_email
                message.from_email = sender
        return super().send_messages(email_messages)

    def _configure(self, settings: SmtpSettings) -> None:
        self.host, self.port = settings.host, settings.port
        self.use_ssl, self.use_tls = settings.use_ssl, settings.use_tls
        self.username, self.password = settings.username, settings.password

    @property
    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if conf.smtp_ca_file():
            context.load_verify_locations(conf.smtp_ca_file())  # e.g. a private CA, or a test server's
        return context


# ---------------------------------------------------------------------------- explaining


def explain(error: BaseException, settings: SmtpSettings | None) -> str:
    """An SMTP failure in plain words, with no secret in it."""
    where = f"{settings.host}:{settings.port}" if settings else "the SMTP server"
    if isinstance(error, ConfigurationNotFound):
        message = str(error)
    elif isinstance(error, ConnectionRefusedError):
        message = f"Connection refused by {where}: nothing is listening there, or a firewall blocks it."
    elif isinstance(error, smtplib.SMTPAuthenticationError):
        message = f"Authentication failed at {where}: the server rejected the username or password."
    elif isinstance(error, ssl.SSLError | ssl.CertificateError):
        message = f"TLS failure with {where}: {_tls_reason(error)}."
    elif _timed_out(error):
        message = f"Timed out after {conf.smtp_timeout():g} s talking to {where}."
    elif isinstance(error, socket.gaierror):
        message = f"The host name of {where} could not be resolved."
    elif isinstance(error, smtplib.SMTPRecipientsRefused):
        message = f"{where} refused the recipient."
    elif isinstance(error, smtplib.SMTPServerDisconnected):
        message = f"{where} closed the connection unexpectedly."
    elif isinstance(error, smtplib.SMTPException | OSError):
        message = f"SMTP error from {where}: {error}"
    else:
        message = f"Unexpected error while sending through {where}: {type(error).__name__}"
    if settings and settings.password:
        message = message.replace(settings.password, SECRET_MASK)
    return message


def _tls_reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or type(error).__name__
    detail = getattr(error, "verify_message", None)
    return f"{reason.lower().replace('_', ' ')} ({detail})" if detail else reason.lower().replace("_", " ")


def _timed_out(error: BaseException) -> bool:
    # smtplib turns a timeout while waiting for a reply into SMTPServerDisconnected.
    return isinstance(error, socket.timeout | TimeoutError) or isinstance(
        error.__context__, socket.timeout | TimeoutError
    )

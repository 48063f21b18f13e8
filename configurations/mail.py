"""Public path of the email backend: ``EMAIL_BACKEND = "configurations.mail.ConfigurationEmailBackend"``.

The code lives in ``configurations.runtime.mail``; this module only re-exports its public names.
"""

from .runtime.mail import ConfigurationEmailBackend, SmtpSettings, explain, smtp_settings

__all__ = ["ConfigurationEmailBackend", "SmtpSettings", "explain", "smtp_settings"]

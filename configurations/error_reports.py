"""Error reports that hide secrets with DEBUG on as well as off.

Django's ``SafeExceptionReporterFilter`` honours ``sensitive_variables`` and ``sensitive_post_parameters``
only with DEBUG off; ``make run`` turns DEBUG on, and a debug page would then show a submitted password in
the POST data and in frame locals. This filter applies them always.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.views.debug import SafeExceptionReporterFilter


class AlwaysCleansingFilter(SafeExceptionReporterFilter):
    """Django's error reports with settings and POST data cleansed whatever DEBUG says."""

    def is_active(self, request) -> bool:
        return True


class RefusalsWithoutTraceback(logging.Filter):
    """A refused request (403) is one log line: its traceback says nothing an operator needs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info, record.exc_text = None, None
        return True

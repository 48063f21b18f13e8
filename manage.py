#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config_site.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A setting that is missing or wrong: one clear line, not a traceback.
        sys.exit(f"Configuration error: {error} (see README.md, Environment variables; `make manage` sets DEBUG)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Django's command-line utility for ContextForge."""

import os
import sys


def main() -> None:
    """Run a management command; a configuration error exits with its message and status 2."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contextforge.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

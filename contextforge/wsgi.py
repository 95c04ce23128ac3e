"""WSGI entry point (the admin and REST API only; protocol transports need ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contextforge.settings")
application = get_wsgi_application()

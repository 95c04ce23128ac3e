"""The base of the identity API views: service errors become HTTP answers.

A service's ``ValidationError`` is a 400 with field-level messages and its
``PermissionDenied`` a 403; missing objects are 404 whether absent or invisible.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.principal import Principal
from apps.accounts.services import PermissionDenied
from apps.teams.principals import principal_of

__all__ = ["ServiceAPIView", "validated"]


def validated(serializer_class: type, data: Any, **kwargs: Any) -> dict[str, Any]:
    """Validate request data with a serializer; 400 with field messages otherwise."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ServiceAPIView(APIView):
    """An APIView whose handlers call services and may let their errors escape."""

    def principal(self) -> Principal:
        """The caller."""
        return principal_of(self.request)

    def handle_exception(self, exc: Exception) -> Response:
        """Translate service errors; everything else goes to DRF."""
        if isinstance(exc, ValidationError):
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            return Response(detail, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, PermissionDenied):
            exc = exceptions.PermissionDenied("You do not have permission to perform this action.")
        return super().handle_exception(exc)

"""Shared machinery of the catalog REST API: the base viewset, body normalisation, pagination, errors.

Bodies are accepted flat or wrapped (``{"tool": {...}, "team_id": ...}``) and with
camelCase or snake_case keys; they are turned into the service's field names, and
unknown keys are refused by name. Service errors become JSON answers naming the field:
400 bad input, 404 missing-or-invisible, 409 conflicts, 413 oversize.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import Q
from rest_framework import exceptions, status, viewsets
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler

from apps.teams.principals import principal_of

from ..errors import ServiceError
from ..selectors import visible

__all__ = ["CatalogPagination", "CatalogViewSet", "normalise_body", "to_snake"]

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def to_snake(key: str) -> str:
    """camelCase -> snake_case (snake_case is left alone)."""
    return _CAMEL.sub(r"_\1", key).lower()


class PayloadTooLarge(exceptions.APIException):
    """The request body is above the configured limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body is too large"
    default_code = "too_large"


def normalise_body(data: Any, wrapper: str, aliases: dict[str, str], ignored: set[str] = frozenset()) -> dict:
    """Unwrap ``{wrapper: {...}}``, snake_case the keys and rename them to service fields."""
    if not isinstance(data, dict):
        raise ServiceError({"detail": "the body must be a JSON object"})
    if isinstance(data.get(wrapper), dict):
        outer = {k: v for k, v in data.items() if k != wrapper}
        data = {**data[wrapper], **{k: v for k, v in outer.items() if v is not None}}
    result: dict[str, Any] = {}
    for key, value in data.items():
        snake = to_snake(key) if isinstance(key, str) else key
        if snake in ignored:
            continue
        result[aliases.get(snake, snake)] = value
    return result


class CatalogPagination(LimitOffsetPagination):
    """limit/offset, default 50, max 500. A plain JSON array (as ContextForge answers) with
    X-Total-Count and Link headers, or the counted envelope with ``include_pagination=true``."""

    default_limit = 50
    max_limit = 500

    def get_paginated_response(self, data):
        if self.request.query_params.get("include_pagination") in ("true", "1"):
            return super().get_paginated_response(data)
        response = Response(data)
        response["X-Total-Count"] = str(self.count)
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", self.get_next_link()), ("prev", self.get_previous_link()))
            if url
        ]
        if links:
            response["Link"] = ", ".join(links)
        return response

    def get_paginated_response_schema(self, schema):
        return schema


def catalog_exception_handler(exc, context):
    """Service errors as ``{"detail", "errors": {field: message}}`` with their HTTP status."""
    if isinstance(exc, ServiceError):
        detail = "; ".join(f"{k}: {v}" if k != "detail" else v for k, v in exc.errors.items())
        return Response({"detail": detail, "errors": exc.errors}, status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        errors = {k: " ".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in response.data.items()}
        response.data = {"detail": "; ".join(f"{k}: {v}" for k, v in errors.items()), "errors": errors}
    return response


class CatalogViewSet(viewsets.GenericViewSet):
    """Base of catalog viewsets: restricted queryset for every action, services for every write."""

    model = None
    pagination_class = CatalogPagination
    search_fields: tuple[str, ...] = ("name", "description")
    lookup_value_regex = "[0-9a-fA-F-]{1,36}"

    def get_exception_handler(self):
        return catalog_exception_handler

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise PayloadTooLarge(f"request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")
        super().initial(request, *args, **kwargs)

    @property
    def principal(self):
        """The caller of this request."""
        return principal_of(self.request)

    def base_queryset(self):
        """Rows the caller may see (also for writes: services decide what they may change)."""
        return visible(self.model, self.principal).select_related("team", "owner")

    def get_queryset(self):
        qs = self.base_queryset()
        if self.action == "list":
            params = self.request.query_params
            if params.get("include_inactive") not in ("true", "1") and "enabled" not in params:
                qs = qs.filter(enabled=True)
            text = params.get("q")
            if text:
                condition = Q()
                for field in self.search_fields:
                    condition |= Q(**{f"{field}__icontains": text})
                qs = qs.filter(condition)
        return qs

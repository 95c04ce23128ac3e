"""Relay between one upstream session and the callers using it.

Upstream → client: progress (per request, by the SDK), logging messages, and the
upstream's requests to the client (sampling/createMessage, elicitation/create,
roots/list) are delivered through the calling request's ``CallOptions``. A request's
options are found through a context variable (streamable HTTP runs each request's
stream in the caller's context) or, on shared streams, as the one interactive call
in flight on the connection.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.client.session import ClientRequestContext
from pydantic import ValidationError

from apps.protocols.spi import CallOptions, CatalogError

logger = logging.getLogger(__name__)

__all__ = ["HOPS_META_KEY", "LOG_LEVELS", "Relay", "current_call", "hop_meta"]

#: ``_meta`` key carrying the gateway instances a request already passed through.
HOPS_META_KEY = "io.contextforge/hops"
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

#: The CallOptions of the request running in this task (None outside a call).
current_call: contextvars.ContextVar[CallOptions | None] = contextvars.ContextVar("mcp_upstream_call", default=None)


def hop_meta(options: CallOptions, instance_id: str, max_hops: int, upstream: str) -> dict[str, Any]:
    """The ``_meta`` to send upstream: the caller's, minus its progress token, plus our hop.

    Raises CatalogError when the request already passed through this gateway (a
    federation loop) or through more than ``max_hops`` gateways.
    """
    meta = {k: v for k, v in (options.meta or {}).items() if k != "progressToken"}
    hops = meta.get(HOPS_META_KEY) or []
    if not isinstance(hops, list) or not all(isinstance(h, str) for h in hops):
        hops = []
    if instance_id in hops or len(hops) >= max_hops:
        raise CatalogError(
            "loop",
            f"federation loop: the request to upstream {upstream} already passed through "
            f"{len(hops)} gateway(s) including this one"
            if instance_id in hops
            else f"federation loop: the request to upstream {upstream} exceeded {max_hops} gateway hops",
            {"upstream": upstream, "hops": hops},
        )
    meta[HOPS_META_KEY] = [*hops, instance_id]
    return meta


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


class Relay:
    """The SDK client callbacks of one upstream connection, routed to the calling request."""

    def __init__(self, upstream: str, fallback: Callable[[], CallOptions | None]) -> None:
        self.upstream = upstream
        self._fallback = fallback

    def _options(self) -> CallOptions | None:
        return current_call.get() or self._fallback()

    async def _ask_client(self, method: str, params: Any, capability: str) -> dict[str, Any] | types.ErrorData:
        options = self._options()
        if options is None:
            return types.ErrorData(
                code=types.INVALID_REQUEST,
                message=f"{method}: the gateway cannot tell which of several callers of {self.upstream} this is for",
            )
        if options.request_client is None:
            return types.ErrorData(
                code=types.INVALID_REQUEST,
                message=f"{method}: no calling client can answer requests from {self.upstream}",
            )
        if options.client_capabilities and capability not in options.client_capabilities:
            return types.ErrorData(
                code=types.INVALID_REQUEST, message=f"{method}: the calling client does not support {capability}"
            )
        try:
            return await options.request_client(method, _dump(params) if params is not None else {})
        except CatalogError as exc:
            return types.ErrorData(code=types.INTERNAL_ERROR, message=exc.message)

    async def sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        """Upstream asks for an LLM completion: relay it to the calling client."""
        answer = await self._ask_client("sampling/createMessage", params, "sampling")
        if isinstance(answer, types.ErrorData):
            return answer
        try:
            if answer.get("content") and isinstance(answer["content"], list):
                return types.CreateMessageResultWithTools.model_validate(answer)
            return types.CreateMessageResult.model_validate(answer)
        except ValidationError as exc:
            return types.ErrorData(code=types.INTERNAL_ERROR, message=f"client answered sampling badly: {exc}")

    async def elicitation(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        """Upstream asks the user for input: relay it to the calling client."""
        answer = await self._ask_client("elicitation/create", params, "elicitation")
        if isinstance(answer, types.ErrorData):
            return answer
        try:
            return types.ElicitResult.model_validate(answer)
        except ValidationError as exc:
            return types.ErrorData(code=types.INTERNAL_ERROR, message=f"client answered elicitation badly: {exc}")

    async def list_roots(self, context: ClientRequestContext) -> types.ListRootsResult | types.ErrorData:
        """Upstream asks for the client's roots: relay it to the calling client."""
        answer = await self._ask_client("roots/list", None, "roots")
        if isinstance(answer, types.ErrorData):
            return answer
        try:
            return types.ListRootsResult.model_validate(answer)
        except ValidationError as exc:
            return types.ErrorData(code=types.INTERNAL_ERROR, message=f"client answered roots/list badly: {exc}")

    async def logging(self, params: types.LoggingMessageNotificationParams) -> None:
        """Upstream log message: relay it to the calling request when at or above its level."""
        options = self._options()
        if options is None or options.on_log is None:
            logger.debug("upstream %s log (no caller): %s", self.upstream, params.data)
            return
        wanted = options.log_level or "debug"
        level = str(params.level)
        if wanted in LOG_LEVELS and level in LOG_LEVELS and LOG_LEVELS.index(level) < LOG_LEVELS.index(wanted):
            return
        await options.on_log(level, params.data, params.logger)

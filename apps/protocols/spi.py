"""The core SPI: the only way a protocol module reaches the core platform.

Service families (DESIGN.md): auth & policy, catalog read & invoke, sessions & events,
plugins, observability, config & secrets. Arguments and results are plain dataclasses
and dicts, never ORM objects, so the same contract can be served in-process
(embedded) or over a socket (sidecar). The core provides an implementation of each
family; a module receives them bundled as ``CoreServices``.

Runtimes go the other way: a module that can reach upstreams of its protocol (the MCP
client pool, the A2A client) registers an ``InvocationRuntime`` with the core, and the
core dispatches federated calls to it after policy and plugins have run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from apps.accounts.principal import ANONYMOUS, Principal

SPI_VERSION = "1.0"

__all__ = [
    "ANONYMOUS",
    "SPI_VERSION",
    "AuthService",
    "CallOptions",
    "CallerContext",
    "CatalogError",
    "CatalogService",
    "ConfigService",
    "CoreServices",
    "Credentials",
    "InvocationRuntime",
    "OAuthStore",
    "ObservabilityService",
    "PluginService",
    "PromptArgumentSpec",
    "PromptResult",
    "PromptSpec",
    "ResourceContents",
    "ResourceSpec",
    "ResourceTemplateSpec",
    "ServerSpec",
    "SessionService",
    "ToolResult",
    "ToolSpec",
    "UpstreamTarget",
]

#: The caller, as resolved by the core's auth service.
CallerContext = Principal


# --- Errors -----------------------------------------------------------------------


class CatalogError(Exception):
    """A failure the protocol module turns into its own wire error.

    ``code`` is one of: not_found (also used for forbidden, so existence does not
    leak), invalid_arguments, unavailable (upstream down or circuit open), timeout,
    cancelled, forbidden (the caller can see the object but lacks the permission),
    loop (a federation loop: the request already passed through this gateway, or
    through too many), internal.
    """

    def __init__(self, code: str, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data or {}


# --- Values -----------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What a transport found on the wire: a bearer token, basic pair, or nothing."""

    bearer: str | None = None
    basic: tuple[str, str] | None = None
    client_ip: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerSpec:
    """A virtual server as served to clients."""

    id: str
    name: str
    description: str = ""
    icon: str | None = None
    version: str = ""


@dataclass(frozen=True)
class ToolSpec:
    """A tool under the name it is exposed by (in one server, or gateway-wide)."""

    id: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    title: str | None = None
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class ToolResult:
    """A tool call's outcome; failures of the tool itself set ``is_error``."""

    content: list[dict[str, Any]] = field(default_factory=list)
    structured_content: dict[str, Any] | None = None
    is_error: bool = False
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class ResourceSpec:
    """A readable resource."""

    uri: str
    name: str
    description: str = ""
    mime_type: str | None = None
    size: int | None = None
    title: str | None = None
    annotations: dict[str, Any] | None = None


@dataclass(frozen=True)
class ResourceTemplateSpec:
    """A parameterised resource (RFC 6570 URI template)."""

    uri_template: str
    name: str
    description: str = ""
    mime_type: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class ResourceContents:
    """One content item of a resource read: text or base64 blob."""

    uri: str
    mime_type: str | None = None
    text: str | None = None
    blob: str | None = None


@dataclass(frozen=True)
class PromptArgumentSpec:
    """One argument of a prompt."""

    name: str
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class PromptSpec:
    """A prompt template."""

    name: str
    description: str = ""
    arguments: tuple[PromptArgumentSpec, ...] = ()
    title: str | None = None


@dataclass(frozen=True)
class PromptResult:
    """A rendered prompt: MCP-shaped messages."""

    messages: list[dict[str, Any]]
    description: str | None = None


ProgressSink = Callable[[float, float | None, str | None], Awaitable[None]]
ClientRequester = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
LogSink = Callable[[str, Any, str | None], Awaitable[None]]


@dataclass
class CallOptions:
    """Per-call plumbing handed down with an invocation.

    ``on_progress`` relays progress to the caller, ``request_client`` sends a request
    (sampling, elicitation, roots) to the calling client and awaits its answer,
    ``on_log`` relays upstream log messages. ``meta`` is the request's ``_meta``.
    ``headers`` are the caller's HTTP request (or WebSocket handshake) headers by
    lowercase name, as the transport received them; the core decides which of them an
    upstream may see (header passthrough), so a runtime never reads them.
    """

    timeout: float | None = None
    progress_token: str | int | None = None
    on_progress: ProgressSink | None = None
    request_client: ClientRequester | None = None
    on_log: LogSink | None = None
    log_level: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    client_protocol_version: str | None = None
    client_capabilities: dict[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UpstreamTarget:
    """Where a federated entity lives: the gateway record, decrypted for the runtime.

    ``headers`` go on every HTTP request to the upstream: the gateway's own credential
    headers, plus the caller's forwarded ones when header passthrough applies (so they
    are part of the credential scope a pooled session is shared under).
    """

    gateway_id: str
    name: str
    transport: str
    url: str | None = None
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    protocol_version: str | None = None
    #: OAuth 2.1 client settings when the upstream wants OAuth (grant_type, client_id,
    #: client_secret, scope, issuer); the runtime discovers the authorization server
    #: (RFC 9728 → RFC 8414), obtains tokens and refreshes them. For the authorization code
    #: grant the core adds redirect_uri, authorize_url (where an operator starts the
    #: authorization) and client_metadata_url; its tokens live in the core's ``OAuthStore``.
    oauth: dict[str, Any] = field(default_factory=dict)


# --- Service families (implemented by the core) -----------------------------------


@runtime_checkable
class AuthService(Protocol):
    """Auth & policy: who is calling and what they may do."""

    async def authenticate(self, credentials: Credentials) -> CallerContext | None:
        """Resolve credentials to a caller, or None when they are absent or invalid."""

    async def has_permission(self, context: CallerContext, permission: str, *, team_id: int | None = None) -> bool:
        """Answer one permission question for the caller."""


@runtime_checkable
class CatalogService(Protocol):
    """Catalog read & invoke, always under the caller's visibility."""

    async def get_server(self, context: CallerContext, server_id: str) -> ServerSpec:
        """A virtual server the caller may see (CatalogError not_found otherwise)."""

    async def list_tools(self, context: CallerContext, server_id: str | None = None) -> list[ToolSpec]:
        """Tools of one server, or every visible tool under namespaced names, in a stable order."""

    async def call_tool(
        self,
        context: CallerContext,
        name: str,
        arguments: dict[str, Any],
        *,
        server_id: str | None,
        options: CallOptions,
    ) -> ToolResult:
        """Resolve, run plugins, dispatch to the owning runtime, record metrics."""

    async def list_resources(self, context: CallerContext, server_id: str | None = None) -> list[ResourceSpec]:
        """Readable resources."""

    async def list_resource_templates(
        self, context: CallerContext, server_id: str | None = None
    ) -> list[ResourceTemplateSpec]:
        """Resource templates."""

    async def read_resource(
        self, context: CallerContext, uri: str, *, server_id: str | None, options: CallOptions
    ) -> list[ResourceContents]:
        """A resource's contents."""

    async def list_prompts(self, context: CallerContext, server_id: str | None = None) -> list[PromptSpec]:
        """Prompts."""

    async def get_prompt(
        self,
        context: CallerContext,
        name: str,
        arguments: dict[str, str],
        *,
        server_id: str | None,
        options: CallOptions,
    ) -> PromptResult:
        """A rendered prompt."""

    async def complete(
        self, context: CallerContext, ref: dict[str, Any], argument: dict[str, Any], *, server_id: str | None
    ) -> dict[str, Any]:
        """Argument completion: {"values": [...], "total": n, "hasMore": bool}."""


@runtime_checkable
class SessionService(Protocol):
    """Sessions & events: state that must hold across workers (channel layer / cache)."""

    async def save_session(self, session_id: str, record: dict[str, Any], ttl: int) -> None:
        """Store or refresh a session record."""

    async def load_session(self, session_id: str) -> dict[str, Any] | None:
        """Fetch a session record, None when unknown or ended."""

    async def end_session(self, session_id: str) -> None:
        """End a session everywhere."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver a message to whichever worker listens on ``channel``."""

    def listen(self, channel: str, ready: asyncio.Event | None = None) -> AsyncIterator[dict[str, Any]]:
        """Receive messages sent to ``channel``; ``ready`` is set once the subscription holds.

        Messages published after ``ready`` is set are received; a caller that must not
        miss a reply waits for it before telling anyone where to send.
        """


@runtime_checkable
class PluginService(Protocol):
    """Plugins: run the hook chain around a call."""

    async def run_hook(self, hook: str, context: CallerContext, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the (possibly modified) payload; raise CatalogError to block."""


@runtime_checkable
class ObservabilityService(Protocol):
    """Observability: metrics, spans and audit."""

    def record_invocation(self, kind: str, entity_id: str, context: CallerContext, **fields: Any) -> None:
        """Queue one invocation metric (written in batches, off the hot path)."""

    def audit(self, action: str, context: CallerContext, **fields: Any) -> None:
        """Queue an audit entry."""


@runtime_checkable
class ConfigService(Protocol):
    """Config & secrets: scoped settings and decrypted credentials."""

    def get(self, key: str, default: Any = None) -> Any:
        """A setting visible to modules."""


@runtime_checkable
class OAuthStore(Protocol):
    """Config & secrets: an upstream gateway's OAuth tokens and client registration.

    Kept by the core, encrypted at rest and shared by every worker. Tokens are RFC 6749
    token responses as dicts (access_token, token_type, refresh_token, scope, and
    ``expires_in`` counted from now when loaded); the client is an RFC 7591 client
    information dict.
    """

    async def load_tokens(self, gateway_id: str) -> dict[str, Any] | None:
        """The gateway's current tokens, None when it has never been (or is no longer) authorized."""

    async def save_tokens(self, gateway_id: str, tokens: dict[str, Any]) -> None:
        """Keep new tokens (after the code exchange or a refresh)."""

    async def clear_tokens(self, gateway_id: str, access_token: str) -> None:
        """Forget the tokens, if they are still the ones holding ``access_token`` (another worker may
        have refreshed meanwhile): the gateway needs a new authorization (refresh token refused)."""

    async def acquire_refresh(self, gateway_id: str, seconds: float) -> bool:
        """Take the gateway's refresh lease for at most ``seconds`` (False while another holder has it):
        one refresh at a time across workers."""

    async def release_refresh(self, gateway_id: str) -> None:
        """Give the refresh lease back."""

    async def load_client(self, gateway_id: str) -> dict[str, Any] | None:
        """The stored client registration (dynamic registration or metadata document), if any."""

    async def save_client(self, gateway_id: str, client: dict[str, Any]) -> None:
        """Keep a client registration so it is made once."""


@runtime_checkable
class InvocationRuntime(Protocol):
    """Implemented by a module that reaches upstreams of its protocol; called by the core."""

    async def call_tool(
        self, target: UpstreamTarget, name: str, arguments: dict[str, Any], options: CallOptions
    ) -> ToolResult:
        """Call a tool on the upstream under its original name."""


@dataclass
class CoreServices:
    """The bundle of core services a module is given."""

    auth: AuthService
    catalog: CatalogService
    sessions: SessionService
    plugins: PluginService
    observability: ObservabilityService
    config: ConfigService
    oauth: OAuthStore | None = None

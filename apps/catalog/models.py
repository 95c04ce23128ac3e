"""The catalog: gateways (upstreams), tools, resources, prompts, virtual servers, metrics.

Every served object is tenant-owned (``OwnedModel``: owner, team, visibility) and is
reached only through ``Model.objects.visible_to(principal, action)``. Federated
entities (discovered on an upstream gateway) keep the upstream's ``original_name`` and
a ``gateway`` foreign key; local entities have no gateway.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.teams.models import OwnedModel

__all__ = [
    "AuditEntry",
    "Gateway",
    "IntegrationType",
    "InvocationMetric",
    "MetricRollup",
    "OAuthState",
    "OAuthToken",
    "Prompt",
    "Resource",
    "ResourceTemplate",
    "ServerTool",
    "Tool",
    "VirtualServer",
]


def _new_id() -> str:
    return uuid.uuid4().hex


class CatalogEntity(OwnedModel):
    """Abstract base: hex id, enabled flag, tags and timestamps shared by every catalog entity."""

    id = models.CharField(primary_key=True, max_length=36, default=_new_id, editable=False)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def _team_unique(fields: list[str], name: str) -> list[models.UniqueConstraint]:
    """Uniqueness within a team, and per owner for objects that have no team."""
    return [
        models.UniqueConstraint(fields=["team", *fields], name=f"{name}_per_team", condition=Q(team__isnull=False)),
        models.UniqueConstraint(fields=["owner", *fields], name=f"{name}_per_owner", condition=Q(team__isnull=True)),
    ]


class Gateway(CatalogEntity):
    """An upstream MCP server or a peer gateway whose tools, resources and prompts are federated.

    Credentials live in ``auth_secret`` as a Fernet token (see ``apps.catalog.crypto``)
    and are never returned by the API.
    """

    class Transport(models.TextChoices):
        STREAMABLEHTTP = "STREAMABLEHTTP", "Streamable HTTP"
        SSE = "SSE", "HTTP + SSE"
        WEBSOCKET = "WEBSOCKET", "WebSocket"
        STDIO = "STDIO", "stdio"

    class AuthType(models.TextChoices):
        NONE = "none", "None"
        BASIC = "basic", "Basic"
        BEARER = "bearer", "Bearer token"
        HEADERS = "headers", "Custom headers"
        QUERY_PARAM = "query_param", "Query parameter"
        OAUTH = "oauth", "OAuth 2.0"

    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255, unique=True)
    url = models.CharField(max_length=2048, blank=True, default="")
    command = models.CharField(max_length=1024, blank=True, default="")
    args = models.JSONField(default=list, blank=True)
    env = models.JSONField(default=dict, blank=True)
    cwd = models.CharField(max_length=1024, blank=True, default="")
    transport = models.CharField(max_length=16, choices=Transport.choices, default=Transport.STREAMABLEHTTP)
    auth_type = models.CharField(max_length=16, choices=AuthType.choices, default=AuthType.NONE)
    auth_secret = models.TextField(blank=True, default="", help_text="Encrypted credentials (Fernet token).")
    passthrough_headers = models.JSONField(default=list, blank=True)
    timeout_seconds = models.FloatField(null=True, blank=True)
    reachable = models.BooleanField(default=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_refresh_at = models.DateTimeField(null=True, blank=True)
    protocol_version = models.CharField(max_length=32, blank=True, default="")
    server_info = models.JSONField(default=dict, blank=True)
    capabilities = models.JSONField(default=dict, blank=True)
    oauth_registration = models.TextField(
        blank=True, default="", help_text="Encrypted OAuth client registration (dynamic or metadata document)."
    )

    permission_family = "gateways"
    server_scope_lookup = "tools__servers"

    class Meta:
        ordering = ["name", "id"]
        constraints = _team_unique(["name"], "gateway_name")

    def __str__(self) -> str:
        return self.name


class OAuthToken(models.Model):
    """The OAuth tokens a gateway's authorization code grant obtained, shared by every worker.

    One row per gateway (the operator who authorized it is recorded, the upstream session is
    the gateway's). ``secret`` is a Fernet token of the access and refresh tokens; only the
    expiry and scope are readable. Never returned by the API, never logged.
    """

    gateway = models.OneToOneField(Gateway, on_delete=models.CASCADE, related_name="oauth_token")
    authorized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    secret = models.TextField(help_text="Encrypted access and refresh tokens (Fernet token).")
    expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=2048, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"OAuth token of {self.gateway_id}"


class OAuthState(models.Model):
    """A pending authorization: single-use, expiring, bound to the user who started it.

    Keyed by the SHA-256 of the ``state`` sent to the authorization server (the state itself
    is not stored); ``payload`` is a Fernet token holding the PKCE verifier and what the token
    exchange needs (authorization server metadata, redirect URI, scope).
    """

    state_hash = models.CharField(primary_key=True, max_length=64)
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    payload = models.TextField()
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"OAuth authorization of {self.gateway_id} until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class IntegrationType(models.TextChoices):
    """Who runs a tool: an MCP upstream, a REST endpoint, or an A2A agent."""

    MCP = "MCP", "MCP"
    REST = "REST", "REST"
    A2A = "A2A", "A2A"


class Tool(CatalogEntity):
    """A callable tool: local REST-backed, or federated from an MCP gateway / A2A agent.

    ``name`` is unique per team (for federated tools ``<gateway-slug><sep><original>``),
    ``original_name`` is what the upstream calls it.
    """

    class Method(models.TextChoices):
        GET = "GET"
        POST = "POST"
        PUT = "PUT"
        PATCH = "PATCH"
        DELETE = "DELETE"

    name = models.CharField(max_length=255)
    original_name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True, default="")
    title = models.CharField(max_length=255, blank=True, default="")
    original_description = models.TextField(blank=True, default="")
    input_schema = models.JSONField(default=dict, blank=True)
    output_schema = models.JSONField(null=True, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    integration_type = models.CharField(max_length=8, choices=IntegrationType.choices, default=IntegrationType.REST)
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.CASCADE, related_name="tools")
    # REST tools
    request_type = models.CharField(max_length=8, choices=Method.choices, default=Method.GET)
    url = models.CharField(max_length=2048, blank=True, default="", help_text="URL template, {param} from arguments.")
    headers = models.JSONField(default=dict, blank=True)
    auth_type = models.CharField(max_length=16, choices=Gateway.AuthType.choices, default=Gateway.AuthType.NONE)
    auth_secret = models.TextField(blank=True, default="", help_text="Encrypted credentials (Fernet token).")
    query_mapping = models.JSONField(default=dict, blank=True, help_text="argument -> query parameter")
    header_mapping = models.JSONField(default=dict, blank=True, help_text="argument -> header")
    body_mapping = models.JSONField(default=dict, blank=True, help_text="argument -> JSON body field")
    jsonpath_filter = models.CharField(max_length=1024, blank=True, default="")
    timeout_ms = models.PositiveIntegerField(null=True, blank=True)
    reachable = models.BooleanField(default=True)
    deprecated = models.BooleanField(default=False)

    permission_family = "tools"
    server_scope_lookup = "servers"

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            *_team_unique(["name"], "tool_name"),
            models.UniqueConstraint(
                fields=["gateway", "original_name"],
                name="tool_original_per_gateway",
                condition=Q(gateway__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["original_name"])]

    def __str__(self) -> str:
        return self.name


class Resource(CatalogEntity):
    """A readable resource: local text/blob content, or a reference to an upstream resource by URI."""

    uri = models.CharField(max_length=2048)
    name = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True, default="")
    mime_type = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    text_content = models.TextField(null=True, blank=True)
    binary_content = models.BinaryField(null=True, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.CASCADE, related_name="resources")

    permission_family = "resources"
    server_scope_lookup = "servers"

    class Meta:
        ordering = ["uri", "id"]
        constraints = [
            *_team_unique(["uri"], "resource_uri"),
            models.UniqueConstraint(
                fields=["gateway", "uri"], name="resource_uri_per_gateway", condition=Q(gateway__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.uri


class ResourceTemplate(CatalogEntity):
    """A parameterised resource (RFC 6570 URI template), local or federated."""

    uri_template = models.CharField(max_length=2048)
    name = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True, default="")
    mime_type = models.CharField(max_length=255, blank=True, default="")
    annotations = models.JSONField(default=dict, blank=True)
    gateway = models.ForeignKey(
        Gateway, null=True, blank=True, on_delete=models.CASCADE, related_name="resource_templates"
    )

    permission_family = "resources"
    server_scope_lookup = "servers"

    class Meta:
        ordering = ["uri_template", "id"]
        constraints = _team_unique(["uri_template"], "template_uri")

    def __str__(self) -> str:
        return self.uri_template


class Prompt(CatalogEntity):
    """A prompt: a sandboxed Jinja2 template for local prompts, or an upstream reference.

    ``arguments`` is a list of ``{"name", "description", "required"}``.
    """

    name = models.CharField(max_length=255)
    original_name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True, default="")
    title = models.CharField(max_length=255, blank=True, default="")
    template = models.TextField(blank=True, default="")
    arguments = models.JSONField(default=list, blank=True)
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.CASCADE, related_name="prompts")

    permission_family = "prompts"
    server_scope_lookup = "servers"

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            *_team_unique(["name"], "prompt_name"),
            models.UniqueConstraint(
                fields=["gateway", "original_name"],
                name="prompt_original_per_gateway",
                condition=Q(gateway__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VirtualServer(CatalogEntity):
    """A bundle of tools, resources and prompts served as one MCP server.

    Inside a server a tool is exposed under its original name unless that collides
    with another tool of the server, then under its namespaced name; a per-server
    alias (``ServerTool.alias``) beats both.
    """

    name = models.CharField(max_length=255)
    icon = models.CharField(max_length=2048, blank=True, default="")
    tools = models.ManyToManyField(Tool, through="ServerTool", related_name="servers", blank=True)
    resources = models.ManyToManyField(Resource, related_name="servers", blank=True)
    resource_templates = models.ManyToManyField(ResourceTemplate, related_name="servers", blank=True)
    prompts = models.ManyToManyField(Prompt, related_name="servers", blank=True)

    permission_family = "servers"
    server_scope_lookup = "pk"

    class Meta:
        ordering = ["name", "id"]
        constraints = _team_unique(["name"], "server_name")

    def __str__(self) -> str:
        return self.name


class ServerTool(models.Model):
    """A tool's membership of a virtual server, with an optional exposed-name alias."""

    server = models.ForeignKey(VirtualServer, on_delete=models.CASCADE, related_name="server_tools")
    tool = models.ForeignKey(Tool, on_delete=models.CASCADE, related_name="server_tools")
    alias = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["server", "tool__name"]
        constraints = [models.UniqueConstraint(fields=["server", "tool"], name="server_tool_once")]

    def __str__(self) -> str:
        return f"{self.server} / {self.alias or self.tool}"


class InvocationMetric(models.Model):
    """One call of a tool, resource read or prompt render; written in batches off the hot path."""

    class Kind(models.TextChoices):
        TOOL = "tool"
        RESOURCE = "resource"
        PROMPT = "prompt"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    entity_id = models.CharField(max_length=36, db_index=True)
    entity_name = models.CharField(max_length=2048, blank=True, default="")
    server_id = models.CharField(max_length=36, blank=True, default="")
    user_id = models.BigIntegerField(null=True, blank=True)
    token_id = models.CharField(max_length=64, blank=True, default="")
    started_at = models.DateTimeField(db_index=True)
    latency_ms = models.FloatField()
    success = models.BooleanField()
    error_code = models.CharField(max_length=32, blank=True, default="")
    bytes_in = models.PositiveBigIntegerField(default=0)
    bytes_out = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["kind", "entity_id", "started_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.entity_name} {'ok' if self.success else self.error_code}"


class MetricRollup(models.Model):
    """Hourly aggregate of invocation metrics for one entity."""

    kind = models.CharField(max_length=16, choices=InvocationMetric.Kind.choices)
    entity_id = models.CharField(max_length=36)
    entity_name = models.CharField(max_length=2048, blank=True, default="")
    hour = models.DateTimeField()
    calls = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    total_latency_ms = models.FloatField(default=0)
    max_latency_ms = models.FloatField(default=0)
    bytes_out = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-hour", "kind", "entity_id"]
        constraints = [models.UniqueConstraint(fields=["kind", "entity_id", "hour"], name="rollup_once_per_hour")]

    def __str__(self) -> str:
        return f"{self.kind} {self.entity_name} @ {self.hour:%Y-%m-%d %H:00}"


class AuditEntry(models.Model):
    """A record of one catalog write or sensitive read: who did what to which object."""

    action = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True, default="")
    token_id = models.CharField(max_length=64, blank=True, default="")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    entity_type = models.CharField(max_length=32, blank=True, default="")
    entity_id = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_email} {self.action} {self.entity_type}:{self.entity_id}"
        )

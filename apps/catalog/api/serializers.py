"""Serializers of the catalog API.

Read serializers speak ContextForge's JSON field names (camelCase: ``inputSchema``,
``teamId``...). Input serializers document and type-check create/update bodies under
snake_case names; the views accept camelCase too (see ``base.normalise_body``).
Secrets are write-only: credentials are never serialized back.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from apps.teams.models import Visibility

from ..models import Gateway, Prompt, Resource, ResourceTemplate, Tool, VirtualServer

# --- Read -----------------------------------------------------------------------------


class OwnedRead(serializers.ModelSerializer):
    """Fields every catalog entity shares."""

    id = serializers.CharField(read_only=True)
    teamId = serializers.CharField(source="team_id", read_only=True, allow_null=True)
    team = serializers.CharField(source="team.name", read_only=True, allow_null=True, default=None)
    ownerEmail = serializers.CharField(source="owner.email", read_only=True, allow_null=True, default=None)
    tags = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    COMMON = (
        "id",
        "description",
        "enabled",
        "tags",
        "teamId",
        "team",
        "ownerEmail",
        "visibility",
        "createdAt",
        "updatedAt",
    )

    def get_tags(self, obj) -> list[dict[str, str]]:
        """Tags in ContextForge's shape: [{"id": "demo", "label": "demo"}]."""
        return [{"id": tag, "label": tag} for tag in obj.tags or []]


class GatewayRead(OwnedRead):
    """A gateway as ContextForge shows it; credentials appear only as their kind."""

    authType = serializers.CharField(source="auth_type", read_only=True)
    hasCredentials = serializers.SerializerMethodField()
    passthroughHeaders = serializers.ListField(
        source="passthrough_headers", child=serializers.CharField(), read_only=True
    )
    lastSeen = serializers.DateTimeField(source="last_seen", read_only=True, allow_null=True)
    lastError = serializers.CharField(source="last_error", read_only=True)
    lastRefreshAt = serializers.DateTimeField(source="last_refresh_at", read_only=True, allow_null=True)
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures", read_only=True)
    protocolVersion = serializers.CharField(source="protocol_version", read_only=True)
    serverInfo = serializers.JSONField(source="server_info", read_only=True)
    timeoutSeconds = serializers.FloatField(source="timeout_seconds", read_only=True, allow_null=True)
    envKeys = serializers.SerializerMethodField()
    toolCount = serializers.IntegerField(source="tool_count", read_only=True, default=0)
    resourceCount = serializers.IntegerField(source="resource_count", read_only=True, default=0)
    promptCount = serializers.IntegerField(source="prompt_count", read_only=True, default=0)

    class Meta:
        model = Gateway
        fields = (
            *OwnedRead.COMMON,
            "name",
            "slug",
            "url",
            "transport",
            "command",
            "args",
            "cwd",
            "envKeys",
            "authType",
            "hasCredentials",
            "passthroughHeaders",
            "timeoutSeconds",
            "reachable",
            "lastSeen",
            "lastError",
            "consecutiveFailures",
            "lastRefreshAt",
            "protocolVersion",
            "serverInfo",
            "capabilities",
            "toolCount",
            "resourceCount",
            "promptCount",
        )

    def get_hasCredentials(self, obj) -> bool:
        return bool(obj.auth_secret)

    def get_envKeys(self, obj) -> list[str]:
        return sorted(obj.env or {})


class ToolRead(OwnedRead):
    """A tool as ContextForge shows it."""

    originalName = serializers.CharField(source="original_name", read_only=True)
    displayName = serializers.CharField(source="display_name", read_only=True)
    customName = serializers.SerializerMethodField()
    originalDescription = serializers.CharField(source="original_description", read_only=True)
    requestType = serializers.CharField(source="request_type", read_only=True)
    integrationType = serializers.CharField(source="integration_type", read_only=True)
    inputSchema = serializers.JSONField(source="input_schema", read_only=True)
    outputSchema = serializers.JSONField(source="output_schema", read_only=True, allow_null=True)
    jsonpathFilter = serializers.CharField(source="jsonpath_filter", read_only=True)
    auth = serializers.SerializerMethodField()
    queryMapping = serializers.JSONField(source="query_mapping", read_only=True)
    headerMapping = serializers.JSONField(source="header_mapping", read_only=True)
    bodyMapping = serializers.JSONField(source="body_mapping", read_only=True)
    timeoutMs = serializers.IntegerField(source="timeout_ms", read_only=True, allow_null=True)
    gatewayId = serializers.CharField(source="gateway_id", read_only=True, allow_null=True)
    gatewaySlug = serializers.CharField(source="gateway.slug", read_only=True, allow_null=True, default=None)
    _meta = serializers.JSONField(source="meta", read_only=True)

    class Meta:
        model = Tool
        fields = (
            *OwnedRead.COMMON,
            "name",
            "originalName",
            "displayName",
            "customName",
            "title",
            "originalDescription",
            "url",
            "requestType",
            "integrationType",
            "headers",
            "inputSchema",
            "outputSchema",
            "annotations",
            "jsonpathFilter",
            "auth",
            "queryMapping",
            "headerMapping",
            "bodyMapping",
            "timeoutMs",
            "reachable",
            "deprecated",
            "gatewayId",
            "gatewaySlug",
            "_meta",
        )

    def get_customName(self, obj) -> str:
        return obj.display_name or obj.original_name

    def get_auth(self, obj) -> dict | None:
        """Only the kind of authentication: the secret itself never leaves the server."""
        return {"authType": obj.auth_type} if obj.auth_type != "none" else None


class ServerToolRead(ToolRead):
    """A tool as bundled in one server, with the name it is exposed by there."""

    exposedName = serializers.SerializerMethodField()

    class Meta(ToolRead.Meta):
        fields = (*ToolRead.Meta.fields, "exposedName")

    def get_exposedName(self, obj) -> str:
        return self.context.get("exposed", {}).get(obj.pk, obj.name)


class ResourceRead(OwnedRead):
    """A resource's metadata (content is read through GET /v1/resources/{id})."""

    mimeType = serializers.CharField(source="mime_type", read_only=True)
    gatewayId = serializers.CharField(source="gateway_id", read_only=True, allow_null=True)
    isBinary = serializers.BooleanField(source="is_binary", read_only=True, default=False)

    class Meta:
        model = Resource
        fields = (*OwnedRead.COMMON, "uri", "name", "title", "mimeType", "size", "isBinary", "annotations", "gatewayId")


class ResourceTemplateRead(OwnedRead):
    """A resource template (MCP shape plus ownership)."""

    uriTemplate = serializers.CharField(source="uri_template", read_only=True)
    mimeType = serializers.CharField(source="mime_type", read_only=True)
    gatewayId = serializers.CharField(source="gateway_id", read_only=True, allow_null=True)

    class Meta:
        model = ResourceTemplate
        fields = (*OwnedRead.COMMON, "uriTemplate", "name", "title", "mimeType", "annotations", "gatewayId")


class PromptRead(OwnedRead):
    """A prompt as ContextForge shows it."""

    originalName = serializers.CharField(source="original_name", read_only=True)
    displayName = serializers.CharField(source="display_name", read_only=True)
    customName = serializers.SerializerMethodField()
    gatewayId = serializers.CharField(source="gateway_id", read_only=True, allow_null=True)
    gatewaySlug = serializers.CharField(source="gateway.slug", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Prompt
        fields = (
            *OwnedRead.COMMON,
            "name",
            "originalName",
            "customName",
            "displayName",
            "title",
            "template",
            "arguments",
            "gatewayId",
            "gatewaySlug",
        )

    def get_customName(self, obj) -> str:
        return obj.display_name or obj.original_name


class ServerRead(OwnedRead):
    """A virtual server with its members (ids) and per-server tool aliases."""

    associatedTools = serializers.SerializerMethodField()
    associatedToolIds = serializers.SerializerMethodField()
    toolAliases = serializers.SerializerMethodField()
    associatedResources = serializers.SerializerMethodField()
    associatedResourceTemplates = serializers.SerializerMethodField()
    associatedPrompts = serializers.SerializerMethodField()

    class Meta:
        model = VirtualServer
        fields = (
            *OwnedRead.COMMON,
            "name",
            "icon",
            "associatedTools",
            "associatedToolIds",
            "toolAliases",
            "associatedResources",
            "associatedResourceTemplates",
            "associatedPrompts",
        )

    def get_associatedTools(self, obj) -> list[str]:
        return [st.tool.name for st in obj.server_tools.all()]

    def get_associatedToolIds(self, obj) -> list[str]:
        return [st.tool_id for st in obj.server_tools.all()]

    def get_toolAliases(self, obj) -> dict[str, str]:
        return {st.tool_id: st.alias for st in obj.server_tools.all() if st.alias}

    def get_associatedResources(self, obj) -> list[str]:
        return [r.pk for r in obj.resources.all()]

    def get_associatedResourceTemplates(self, obj) -> list[str]:
        return [r.pk for r in obj.resource_templates.all()]

    def get_associatedPrompts(self, obj) -> list[str]:
        return [p.pk for p in obj.prompts.all()]


# --- Input (documentation and type checks; services validate meaning) ------------------


class OwnedInput(serializers.Serializer):
    """Ownership fields accepted by every create/update body."""

    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=65536)
    tags = serializers.ListField(
        child=serializers.JSONField(), required=False, allow_null=True, help_text='strings, or {"id", "label"} objects'
    )
    team_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, allow_null=True)
    enabled = serializers.BooleanField(required=False)


class CredentialsInput(serializers.Serializer):
    """Credentials for auth_type (write-only, stored encrypted): basic → username/password,
    bearer → token, headers → headers, query_param → key/value, oauth → config."""

    username = serializers.CharField(required=False)
    password = serializers.CharField(required=False)
    token = serializers.CharField(required=False)
    headers = serializers.DictField(child=serializers.CharField(), required=False)
    key = serializers.CharField(required=False)
    value = serializers.CharField(required=False)
    config = serializers.DictField(required=False)


AUTH_TYPES = ["none", "basic", "bearer", "headers", "query_param", "oauth"]


class GatewayInput(OwnedInput):
    """Create/update body of a gateway."""

    name = serializers.CharField(max_length=255)
    url = serializers.CharField(required=False, allow_blank=True, max_length=2048)
    transport = serializers.ChoiceField(choices=Gateway.Transport.values, required=False)
    command = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    args = serializers.ListField(child=serializers.CharField(), required=False)
    env = serializers.DictField(child=serializers.CharField(), required=False)
    cwd = serializers.CharField(required=False, allow_blank=True, max_length=1024)
    auth_type = serializers.ChoiceField(choices=AUTH_TYPES, required=False, allow_null=True)
    credentials = CredentialsInput(required=False, write_only=True)
    passthrough_headers = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    timeout_seconds = serializers.FloatField(required=False, allow_null=True)


class ToolInput(OwnedInput):
    """Create/update body of a REST tool (also accepted wrapped as {"tool": {...}})."""

    name = serializers.CharField(max_length=128)
    display_name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    title = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    url = serializers.CharField(required=False, max_length=2048, help_text="URL template; {param} from arguments")
    request_type = serializers.ChoiceField(choices=Tool.Method.values, required=False)
    integration_type = serializers.ChoiceField(choices=["REST"], required=False)
    headers = serializers.DictField(child=serializers.CharField(), required=False, allow_null=True)
    input_schema = serializers.JSONField(required=False, allow_null=True)
    output_schema = serializers.JSONField(required=False, allow_null=True)
    annotations = serializers.DictField(required=False, allow_null=True)
    jsonpath_filter = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=1024)
    auth_type = serializers.ChoiceField(choices=AUTH_TYPES[:-1], required=False, allow_null=True)
    credentials = CredentialsInput(required=False, write_only=True)
    query_mapping = serializers.DictField(child=serializers.CharField(), required=False, allow_null=True)
    header_mapping = serializers.DictField(child=serializers.CharField(), required=False, allow_null=True)
    body_mapping = serializers.DictField(child=serializers.CharField(), required=False, allow_null=True)
    timeout_ms = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=600000)
    deprecated = serializers.BooleanField(required=False)


class ResourceInput(OwnedInput):
    """Create/update body of a local resource: text ``content`` or base64 ``blob``."""

    uri = serializers.CharField(max_length=2048)
    name = serializers.CharField(max_length=255)
    title = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    mime_type = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    blob = serializers.CharField(required=False, trim_whitespace=False)
    annotations = serializers.DictField(required=False, allow_null=True)


class ResourceTemplateInput(OwnedInput):
    """Create/update body of a resource template."""

    uri_template = serializers.CharField(max_length=2048)
    name = serializers.CharField(max_length=255)
    title = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    mime_type = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)


class PromptArgumentInput(serializers.Serializer):
    """One declared prompt argument."""

    name = serializers.CharField(max_length=128)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    required = serializers.BooleanField(required=False)


class PromptInput(OwnedInput):
    """Create/update body of a prompt (Jinja2 template, sandboxed)."""

    name = serializers.CharField(max_length=128)
    display_name = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    title = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    template = serializers.CharField(trim_whitespace=False, max_length=1_000_000)
    arguments = PromptArgumentInput(many=True, required=False)


class ServerToolInput(serializers.Serializer):
    """A tool member with an optional per-server alias."""

    id = serializers.CharField(max_length=36)
    alias = serializers.CharField(required=False, allow_blank=True, max_length=128)


class ServerInput(OwnedInput):
    """Create/update body of a virtual server (also accepted wrapped as {"server": {...}})."""

    name = serializers.CharField(max_length=255)
    icon = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=2048)
    associated_tools = serializers.ListField(
        child=serializers.JSONField(), required=False, allow_null=True, help_text='tool ids, or {"id", "alias"} objects'
    )
    tool_aliases = serializers.DictField(child=serializers.CharField(), required=False, allow_null=True)
    associated_resources = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    associated_resource_templates = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True
    )
    associated_prompts = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)


class StateResponse(serializers.Serializer):
    """Answer of /state and /toggle."""

    status = serializers.CharField()
    message = serializers.CharField()


class RenderedPrompt(serializers.Serializer):
    """A rendered prompt: MCP messages."""

    messages = serializers.ListField(child=serializers.DictField())
    description = serializers.CharField(allow_null=True)


class GenerateSchemasInput(serializers.Serializer):
    """Body of /v1/tools/generate-schemas-from-openapi: a document by URL or inline, and
    optionally one operation (``url`` + ``request_type``) to pick out."""

    url = serializers.CharField(required=False, allow_blank=True, max_length=2048)
    request_type = serializers.CharField(required=False, default="GET", max_length=8)
    openapi_url = serializers.CharField(required=False, allow_blank=True, max_length=2048)
    base_url = serializers.CharField(required=False, allow_blank=True, max_length=2048)
    spec = serializers.JSONField(required=False)


MAX_BODY_NOTE = f"Bodies above {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes are refused with 413."

"""Every write to the catalog: one function per action.

Each function runs in a transaction, checks the caller's permission through
``apps.teams.permissions.has_permission``, validates every field (raising
``InvalidInput``/``Conflict``/``TooLarge`` naming the field, with nothing written),
records an ``AuditEntry`` and queues side effects (cache invalidation, the
``catalog_changed`` signal) on commit. The REST API, the admin, management commands
and protocol modules all call these functions.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from apps.accounts.principal import Principal
from apps.protocols.spi import PromptSpec, ResourceSpec, ResourceTemplateSpec, ToolSpec, UpstreamTarget
from apps.teams.models import Team, Visibility
from apps.teams.permissions import has_permission

from . import oauth_client, passthrough, runtimes
from .content import normalise_content
from .crypto import decrypt_json, encrypt_json
from .errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from .models import (
    AuditEntry,
    Gateway,
    IntegrationType,
    OAuthToken,
    Prompt,
    Resource,
    ResourceTemplate,
    ServerTool,
    Tool,
    VirtualServer,
)
from .names import TOOL_NAME_RE, ExposedTool, NameCollision, exposed_tool_names, namespaced, slug_for
from .prompting import environment as prompt_environment
from .signals import catalog_changed
from .validation import (
    clean_arguments,
    clean_headers,
    clean_json_schema,
    clean_jsonpath,
    clean_str_map,
    clean_tags,
    clean_template,
    clean_text,
    clean_url,
)

__all__ = [
    "auth_headers",
    "create_gateway",
    "create_prompt",
    "create_resource",
    "create_resource_template",
    "create_server",
    "create_tool",
    "delete_entity",
    "gateway_credentials",
    "record_gateway_health",
    "refresh_gateway",
    "resource_cache_key",
    "set_enabled",
    "sync_gateway",
    "sync_gateway_catalog",
    "tool_credentials",
    "update_gateway",
    "update_prompt",
    "update_resource",
    "update_resource_template",
    "update_server",
    "update_tool",
    "upstream_target",
    "uses_authorization_code",
]

KIND_OF = {
    Gateway: "gateway",
    Tool: "tool",
    Resource: "resource",
    ResourceTemplate: "resource_template",
    Prompt: "prompt",
    VirtualServer: "server",
}
#: The permission family of each model ("tools.create", "servers.update", ...).
PERMISSION_OF = {
    Gateway: "gateways",
    Tool: "tools",
    Resource: "resources",
    ResourceTemplate: "resources",
    Prompt: "prompts",
    VirtualServer: "servers",
}
COMMON_FIELDS = {"team_id", "visibility", "tags", "description", "enabled"}


# --- Shared steps ---------------------------------------------------------------------


def record_audit(
    principal: Principal, action: str, *, entity_type: str = "", entity_id: str = "", **detail: Any
) -> AuditEntry:
    """Write one audit entry for an action of ``principal`` (values that are not JSON scalars become text)."""
    return AuditEntry.objects.create(
        action=action[:64],
        actor_id=principal.user_id,
        actor_email=principal.email,
        token_id=principal.token_id or "",
        client_ip=principal.client_ip,
        entity_type=str(entity_type)[:32],
        entity_id=str(entity_id)[:64],
        detail={
            k: v if isinstance(v, str | int | float | bool | list | dict | None) else str(v) for k, v in detail.items()
        },
    )


def _audit(principal: Principal, action: str, obj: models.Model | None, **detail: Any) -> None:
    entity_type = KIND_OF.get(type(obj), type(obj).__name__.lower()) if obj is not None else ""
    record_audit(principal, action, entity_type=entity_type, entity_id=obj.pk if obj is not None else "", **detail)


def _changed(kind: str, ids: Iterable[str]) -> None:
    ids = [str(i) for i in ids]
    transaction.on_commit(lambda: catalog_changed.send(sender=None, kind=kind, ids=ids))


def _reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput({name: "is not a known field" for name in unknown})


def _resolve_team(principal: Principal, team_id: Any, permission: str) -> Team | None:
    if team_id in (None, ""):
        return None
    try:
        pk = int(team_id)
        if not 0 < pk < 2**63:
            raise ValueError(pk)
        team = Team.objects.get(pk=pk)
    except (TypeError, ValueError, Team.DoesNotExist) as exc:
        raise InvalidInput(f"team {team_id!r} does not exist", "team_id") from exc
    if not principal.is_platform_admin and team.pk not in principal.team_ids:
        raise InvalidInput(f"team {team_id!r} does not exist", "team_id")
    if not has_permission(principal, permission, team=team):
        raise Forbidden(f"you may not {permission} in this team", "team_id")
    return team


def _apply_ownership(principal: Principal, obj: models.Model, data: dict[str, Any], *, creating: bool) -> None:
    perm = f"{PERMISSION_OF[type(obj)]}.{'create' if creating else 'update'}"
    if creating:
        if not has_permission(principal, perm):
            raise Forbidden(f"you may not {perm}")
        obj.owner_id = principal.user_id
        obj.team = _resolve_team(principal, data.get("team_id"), perm)
    elif "team_id" in data and str(data["team_id"] or "") != str(obj.team_id or ""):
        obj.team = _resolve_team(principal, data["team_id"], perm)
    if "visibility" in data or creating:
        default = Visibility.TEAM if obj.team_id else Visibility.PRIVATE
        visibility = data.get("visibility") or (obj.visibility if not creating else default)
        if visibility not in Visibility.values:
            raise InvalidInput(f"must be one of {', '.join(Visibility.values)}", "visibility")
        if visibility == Visibility.TEAM and obj.team_id is None:
            raise InvalidInput("team visibility needs a team_id", "visibility")
        obj.visibility = visibility
    if "tags" in data:
        obj.tags = clean_tags("tags", data["tags"])
    if "description" in data:
        obj.description = clean_text("description", data["description"], max_length=65536)
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise InvalidInput("must be true or false", "enabled")
        obj.enabled = data["enabled"]


def _get_for_edit(principal: Principal, model: type[models.Model], pk: Any, action: str) -> models.Model:
    """The object when visible and editable; NotFound when invisible, Forbidden when read-only."""
    pk = str(pk)
    if not model.objects.visible_to(principal, "view").filter(pk=pk).exists():
        raise NotFound(f"{KIND_OF[model]} {pk} not found")
    # Locked by primary key alone: the visibility query may be DISTINCT, which FOR UPDATE refuses.
    obj = model.objects.select_for_update().get(pk=pk)
    perm = f"{PERMISSION_OF[model]}.{action}"
    editable = model.objects.visible_to(principal, "change").filter(pk=pk).exists()
    if not editable or not has_permission(principal, perm, obj=obj):
        raise Forbidden(f"you may not {perm} this {KIND_OF[model]}")
    return obj


def _ensure_unique(obj: models.Model, field: str, value: Any, api_field: str | None = None) -> None:
    model = type(obj)
    scope = {"team_id": obj.team_id} if obj.team_id else {"team__isnull": True, "owner_id": obj.owner_id}
    if model.objects.filter(**scope, **{field: value}).exclude(pk=obj.pk).exists():
        where = "in this team" if obj.team_id else "among your objects"
        raise Conflict(f"a {KIND_OF[model]} named {value!r} already exists {where}", api_field or field)


def _save(obj: models.Model, field: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise Conflict(f"{getattr(obj, field)!r} is already taken", field) from exc


def _bool(data: dict[str, Any], key: str) -> bool:
    if not isinstance(data[key], bool):
        raise InvalidInput("must be true or false", key)
    return data[key]


# --- Credentials ----------------------------------------------------------------------

_AUTH_KEYS = {
    "none": (),
    "basic": ("username", "password"),
    "bearer": ("token",),
    "headers": ("headers",),
    "query_param": ("key", "value"),
    "oauth": ("config",),
}


OAUTH_GRANTS = ("client_credentials", oauth_client.AUTHORIZATION_CODE)


def _clean_auth(field: str, auth_type: str, credentials: Any) -> dict[str, Any]:
    """Validate credentials for an auth type; returns what gets encrypted."""
    if auth_type not in _AUTH_KEYS:
        raise InvalidInput(f"must be one of {', '.join(_AUTH_KEYS)}", "auth_type")
    if auth_type == "none":
        return {}
    if not isinstance(credentials, dict):
        raise InvalidInput(f"{auth_type} authentication needs credentials", field)
    clean: dict[str, Any] = {}
    for key in _AUTH_KEYS[auth_type]:
        value = credentials.get(key)
        if value in (None, "", {}):
            raise InvalidInput(f"{auth_type} authentication needs {key!r}", field)
        if key == "headers":
            value = clean_headers(field, value)
        elif key == "config":
            if not isinstance(value, dict):
                raise InvalidInput("oauth config must be an object", field)
            if value.get("grant_type", "client_credentials") not in OAUTH_GRANTS:
                raise InvalidInput(f"oauth grant_type must be one of {', '.join(OAUTH_GRANTS)}", field)
        elif not isinstance(value, str) or len(value) > 8192 or "\n" in value or "\r" in value:
            raise InvalidInput(f"{key!r} must be a single-line string", field)
        clean[key] = value
    return clean


def gateway_credentials(gateway: Gateway) -> dict[str, Any]:
    """The decrypted credentials of a gateway (for runtimes only; never for the API)."""
    return decrypt_json(gateway.auth_secret)


def tool_credentials(tool: Tool) -> dict[str, Any]:
    """The decrypted credentials of a REST tool."""
    return decrypt_json(tool.auth_secret)


def auth_headers(auth_type: str, credentials: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """HTTP headers and query parameters that carry these credentials."""
    if auth_type == "basic":
        pair = f"{credentials['username']}:{credentials['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}, {}
    if auth_type == "bearer":
        return {"Authorization": f"Bearer {credentials['token']}"}, {}
    if auth_type == "headers":
        return dict(credentials["headers"]), {}
    if auth_type == "query_param":
        return {}, {credentials["key"]: credentials["value"]}
    if auth_type == "oauth" and credentials.get("config", {}).get("access_token"):
        return {"Authorization": f"Bearer {credentials['config']['access_token']}"}, {}
    return {}, {}


def uses_authorization_code(gateway: Gateway) -> bool:
    """True when the gateway's upstream is reached with tokens an operator's authorization obtained."""
    if gateway.auth_type != Gateway.AuthType.OAUTH:
        return False
    return gateway_credentials(gateway).get("config", {}).get("grant_type") == oauth_client.AUTHORIZATION_CODE


def upstream_target(gateway: Gateway) -> UpstreamTarget:
    """The SPI view of a gateway, with decrypted credentials, for a runtime.

    An authorization code gateway's OAuth settings carry where its authorization starts, the
    redirect URI and the client metadata document URL; its tokens stay in the core's store.
    """
    credentials = gateway_credentials(gateway)
    headers, query = auth_headers(gateway.auth_type, credentials)
    oauth = dict(credentials.get("config", {})) if gateway.auth_type == "oauth" else {}
    if oauth.get("grant_type") == oauth_client.AUTHORIZATION_CODE:
        oauth["authorize_url"] = oauth_client.authorize_url(str(gateway.pk))
        oauth["redirect_uri"] = oauth_client.redirect_uri()
        oauth["client_metadata_url"] = oauth_client.client_metadata_url() or ""
        oauth["client_name"] = settings.OAUTH_CLIENT_NAME
    return UpstreamTarget(
        gateway_id=str(gateway.pk),
        name=gateway.name,
        transport=gateway.transport,
        url=gateway.url or None,
        command=gateway.command or None,
        args=tuple(gateway.args or ()),
        env=dict(gateway.env or {}),
        headers=headers,
        query_params=query,
        timeout=gateway.timeout_seconds,
        protocol_version=gateway.protocol_version or None,
        oauth=dict(oauth) if oauth.get("grant_type") and not oauth.get("access_token") else {},
    )


#: Tag put on a federated tool its upstream no longer lists (the tool is disabled, not deleted).
REMOVED_UPSTREAM_TAG = "removed-upstream"

# --- Gateways -------------------------------------------------------------------------

GATEWAY_FIELDS = COMMON_FIELDS | {
    "name",
    "url",
    "transport",
    "command",
    "args",
    "env",
    "cwd",
    "auth_type",
    "credentials",
    "passthrough_headers",
    "timeout_seconds",
}


def _apply_gateway(gateway: Gateway, data: dict[str, Any]) -> None:
    if "name" in data:
        gateway.name = clean_text("name", data["name"], required=True)
    if "transport" in data:
        if data["transport"] not in Gateway.Transport.values:
            raise InvalidInput(f"must be one of {', '.join(Gateway.Transport.values)}", "transport")
        gateway.transport = data["transport"]
    if "url" in data:
        gateway.url = clean_url("url", data["url"], required=False)
    if "command" in data:
        gateway.command = clean_text("command", data["command"], max_length=1024)
    if "cwd" in data:
        gateway.cwd = clean_text("cwd", data["cwd"], max_length=1024)
    if "args" in data:
        args = data["args"] or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args) or len(args) > 256:
            raise InvalidInput("must be a list of strings", "args")
        gateway.args = args
    if "env" in data:
        gateway.env = clean_str_map("env", data["env"], max_items=256)
    if "passthrough_headers" in data:
        gateway.passthrough_headers = passthrough.clean_allow_list("passthrough_headers", data["passthrough_headers"])
    if "timeout_seconds" in data:
        timeout = data["timeout_seconds"]
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
            raise InvalidInput("must be a number of seconds", "timeout_seconds")
        if timeout is not None and not 0 < timeout <= 3600:
            raise InvalidInput("must be between 0 and 3600 seconds", "timeout_seconds")
        gateway.timeout_seconds = timeout
    if "auth_type" in data or "credentials" in data:
        auth_type = data.get("auth_type") or gateway.auth_type
        if "credentials" in data or auth_type != gateway.auth_type:
            gateway.auth_secret = encrypt_json(_clean_auth("credentials", auth_type, data.get("credentials")))
        gateway.auth_type = auth_type
    if gateway.transport == Gateway.Transport.STDIO:
        if not gateway.command:
            raise InvalidInput("a stdio gateway needs a command", "command")
    elif not gateway.url:
        raise InvalidInput(f"a {gateway.transport} gateway needs a url", "url")


def _unique_slug(name: str, exclude: str | None = None) -> str:
    base = slug_for(name)
    slug, n = base, 1
    while Gateway.objects.filter(slug=slug).exclude(pk=exclude).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_gateway(principal: Principal, data: dict[str, Any]) -> Gateway:
    """Register an upstream gateway: connect, negotiate and discover it, then store it with its catalog.

    With an MCP runtime in this process the upstream is reached first (every page of
    tools, resources, templates and prompts); an unreachable or non-MCP upstream fails
    with ``InvalidInput`` on url (or command) naming the reason, and nothing is stored. Without a runtime,
    or for an OAuth authorization code upstream (discovered once an operator authorizes it), the
    gateway is stored alone, to be discovered by the next refresh or sync.
    """
    checked = _new_gateway(principal, data)  # validation and permission checks; nothing saved yet
    # An authorization code upstream answers nothing before an operator authorizes it: stored
    # undiscovered, its catalog is fetched when the authorization completes.
    found = None
    if not uses_authorization_code(checked):
        found = _discover(upstream_target(checked), "url" if checked.url else "command")
    with transaction.atomic():
        gateway = _new_gateway(principal, data)
        gateway.pk = checked.pk  # the same upstream identity: the session opened for discovery is reused
        _save(gateway, "name")
        _audit(principal, "gateway.create", gateway, name=gateway.name)
        _changed("gateway", [gateway.pk])
        if found is not None:
            sync_gateway_catalog(gateway.pk, **_discovered(found))
            gateway.refresh_from_db()
    return gateway


def _new_gateway(principal: Principal, data: dict[str, Any]) -> Gateway:
    _reject_unknown(data, GATEWAY_FIELDS)
    gateway = Gateway()
    _apply_ownership(principal, gateway, data, creating=True)
    _apply_gateway(gateway, {"name": None, **data})
    _ensure_unique(gateway, "name", gateway.name)
    gateway.slug = _unique_slug(gateway.name)
    return gateway


def _run_runtime(runtime: Any, function: Callable, *args: Any) -> Any:
    """Call a runtime coroutine from synchronous code, on the loop that holds its pooled sessions."""
    run_sync = getattr(runtime, "run_sync", None)
    if run_sync is not None:
        return run_sync(function, *args)
    return async_to_sync(function)(*args)


def _discover(target: UpstreamTarget, field: str) -> Any:
    """What the MCP runtime finds on an upstream; None when no runtime runs in this process."""
    runtime = runtimes.get_runtime("MCP")
    discover: Callable | None = getattr(runtime, "discover", None)
    if discover is None:
        return None
    try:
        return _run_runtime(runtime, discover, target)
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise InvalidInput(f"could not register {target.name}: {message}", field) from None


@transaction.atomic
def update_gateway(principal: Principal, gateway_id: str, data: dict[str, Any]) -> Gateway:
    """Change a gateway's fields (credentials replaced only when given)."""
    _reject_unknown(data, GATEWAY_FIELDS)
    gateway = _get_for_edit(principal, Gateway, gateway_id, "update")
    _apply_ownership(principal, gateway, data, creating=False)
    before = (gateway.url, gateway.auth_secret)
    _apply_gateway(gateway, data)
    if (gateway.url, gateway.auth_secret) != before:
        # Tokens and client registrations belong to the old upstream or client: authorize again.
        gateway.oauth_registration = ""
        OAuthToken.objects.filter(gateway=gateway).delete()
    _ensure_unique(gateway, "name", gateway.name)
    _save(gateway, "name")
    _audit(principal, "gateway.update", gateway, fields=sorted(set(data) - {"credentials"}))
    _changed("gateway", [gateway.pk])
    return gateway


def record_gateway_health(gateway_id: str, *, reachable: bool, error: str = "", threshold: int = 1) -> None:
    """Record a health-check outcome (system action, no caller).

    A failure marks the gateway (and its tools) unreachable once ``threshold``
    consecutive failures are counted; the first success marks it reachable again. Each
    change of state writes a ``gateway.health`` audit row: the gateway's health history.
    """
    now = timezone.now()
    with transaction.atomic():
        gateway = Gateway.objects.select_for_update().filter(pk=gateway_id).first()
        if gateway is None:
            return
        was = gateway.reachable
        if reachable:
            gateway.reachable = True
            gateway.last_seen, gateway.consecutive_failures, gateway.last_error = now, 0, ""
        else:
            gateway.consecutive_failures += 1
            gateway.last_error = error[:4000]
            if gateway.consecutive_failures >= threshold:
                gateway.reachable = False
        gateway.save(update_fields=["reachable", "last_seen", "consecutive_failures", "last_error", "updated_at"])
        if was != gateway.reachable:
            AuditEntry.objects.create(
                action="gateway.health",
                entity_type="gateway",
                entity_id=str(gateway.pk),
                detail={
                    "reachable": gateway.reachable,
                    "error": gateway.last_error[:1000],
                    "consecutive_failures": gateway.consecutive_failures,
                },
            )
            Tool.objects.filter(gateway=gateway).update(reachable=gateway.reachable)
            _changed("tool", Tool.objects.filter(gateway=gateway).values_list("pk", flat=True))
            _changed("gateway", [gateway.pk])


def _spec_tool_fields(spec: ToolSpec) -> dict[str, Any]:
    return {
        "description": spec.description or "",
        "original_description": spec.description or "",
        "title": spec.title or "",
        "input_schema": spec.input_schema or {"type": "object"},
        "output_schema": spec.output_schema,
        "annotations": spec.annotations or {},
        "meta": spec.meta or {},
    }


@transaction.atomic
def sync_gateway_catalog(
    gateway_id: str,
    *,
    tools: Sequence[ToolSpec] | None = None,
    resources: Sequence[ResourceSpec] | None = None,
    templates: Sequence[ResourceTemplateSpec] | None = None,
    prompts: Sequence[PromptSpec] | None = None,
    server_info: dict[str, Any] | None = None,
    capabilities: dict[str, Any] | None = None,
    protocol_version: str | None = None,
) -> dict[str, Any]:
    """Store what discovery found on a gateway: add, update, remove federated entities.

    Each kind passed (not None) replaces the gateway's set of that kind. Federated
    entities inherit the gateway's owner, team and visibility; tools and prompts are
    named ``<gateway-slug><sep><original>``. A name already taken by another entity of
    the team is skipped and reported. Returns counts as in ContextForge's refresh
    response (toolsAdded, ..., skippedTools).
    """
    gateway = Gateway.objects.select_for_update().get(pk=gateway_id)
    owned = {"owner_id": gateway.owner_id, "team_id": gateway.team_id, "visibility": gateway.visibility}
    report: dict[str, Any] = {"gatewayId": str(gateway.pk), "success": True, "error": None, "skippedTools": []}

    def sync(kind, model, specs, key_attr, key_field, fields_of, extra_name=None):
        added = updated = removed = 0
        if specs is None:
            return
        existing = {getattr(o, key_field): o for o in model.objects.filter(gateway=gateway)}
        seen = set()
        for spec in specs:
            key = getattr(spec, key_attr)
            if key in seen:
                continue
            seen.add(key)
            fields = fields_of(spec)
            obj = existing.get(key)
            if obj is None:
                obj = model(gateway=gateway, **{key_field: key}, **owned, **fields)
                if extra_name is not None:
                    obj.name = extra_name(key)
                    scope = {"team_id": gateway.team_id} if gateway.team_id else {"team__isnull": True}
                    if not gateway.team_id:
                        scope["owner_id"] = gateway.owner_id
                    clash = model.objects.filter(name=obj.name, **scope)
                    if clash.exists():
                        report.setdefault(f"skipped{kind.title()}s", []).append(key)
                        continue
                obj.save()
                added += 1
            else:
                dirty = {k: v for k, v in fields.items() if getattr(obj, k) != v}
                if model is Tool and REMOVED_UPSTREAM_TAG in obj.tags:  # back upstream: re-enable
                    dirty["tags"] = [t for t in obj.tags if t != REMOVED_UPSTREAM_TAG]
                    dirty["enabled"] = True
                if dirty:
                    for k, v in dirty.items():
                        setattr(obj, k, v)
                    obj.save()
                    updated += 1
        stale = [o.pk for k, o in existing.items() if k not in seen]
        if stale and model is Tool:
            # Disabled, not deleted: virtual servers keep their configuration if the tool returns.
            for tool in model.objects.filter(pk__in=stale):
                if tool.enabled or REMOVED_UPSTREAM_TAG not in tool.tags:
                    tool.enabled = False
                    tool.tags = sorted({*tool.tags, REMOVED_UPSTREAM_TAG})
                    tool.save(update_fields=["enabled", "tags", "updated_at"])
                    removed += 1
        elif stale:
            removed = model.objects.filter(pk__in=stale).delete()[1].get(model._meta.label, 0)
        report[f"{kind}sAdded"], report[f"{kind}sUpdated"], report[f"{kind}sRemoved"] = added, updated, removed
        _changed(KIND_OF[model], [*seen, *stale])

    sep_name = lambda original: namespaced(gateway.slug, original)  # noqa: E731
    sync("tool", Tool, tools, "name", "original_name", _spec_tool_fields, sep_name)
    if tools is not None:
        Tool.objects.filter(gateway=gateway).update(integration_type=IntegrationType.MCP)
    sync(
        "resource",
        Resource,
        resources,
        "uri",
        "uri",
        lambda s: {
            "name": s.name,
            "description": s.description or "",
            "mime_type": s.mime_type or "",
            "size": s.size,
            "title": s.title or "",
            "annotations": s.annotations or {},
        },
    )
    sync(
        "template",
        ResourceTemplate,
        templates,
        "uri_template",
        "uri_template",
        lambda s: {
            "name": s.name,
            "description": s.description or "",
            "mime_type": s.mime_type or "",
            "title": s.title or "",
        },
    )
    sync(
        "prompt",
        Prompt,
        prompts,
        "name",
        "original_name",
        lambda s: {
            "description": s.description or "",
            "title": s.title or "",
            "arguments": [{"name": a.name, "description": a.description, "required": a.required} for a in s.arguments],
        },
        sep_name,
    )
    update = ["last_refresh_at", "updated_at"]
    gateway.last_refresh_at = timezone.now()
    for attr, value in (
        ("server_info", server_info),
        ("capabilities", capabilities),
        ("protocol_version", protocol_version),
    ):
        if value is not None:
            setattr(gateway, attr, value)
            update.append(attr)
    gateway.save(update_fields=update)
    return report


def refresh_gateway(principal: Principal, gateway_id: str) -> dict[str, Any]:
    """ "Refresh from upstream": ask the MCP runtime to discover the gateway, then sync the catalog.

    The runtime (registered by the MCP module) implements ``discover(target)`` returning
    a dict with any of tools, resources, templates, prompts, server_info, capabilities,
    protocol_version (SPI value types).
    """
    with transaction.atomic():
        gateway = _get_for_edit(principal, Gateway, gateway_id, "update")
        target = upstream_target(gateway)
        _audit(principal, "gateway.refresh", gateway)
    return _sync_from_upstream(gateway.pk, target)


def sync_gateway(gateway_id: str) -> dict[str, Any]:
    """Federation sync of one gateway (periodic, or on the upstream's list_changed); system action."""
    gateway = Gateway.objects.filter(pk=gateway_id, enabled=True).first()
    if gateway is None:
        return {"gatewayId": str(gateway_id), "success": False, "error": "gateway not found or disabled"}
    return _sync_from_upstream(gateway.pk, upstream_target(gateway))


def _sync_from_upstream(gateway_id: str, target: UpstreamTarget) -> dict[str, Any]:
    runtime = runtimes.get_runtime("MCP")
    discover: Callable | None = getattr(runtime, "discover", None)
    if discover is None:
        raise Unavailable("no upstream runtime can discover MCP gateways in this process", "gateway")
    try:
        found = _run_runtime(runtime, discover, target)
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        record_gateway_health(gateway_id, reachable=False, error=message)
        return {"gatewayId": str(gateway_id), "success": False, "error": message[:1000]}
    record_gateway_health(gateway_id, reachable=True)
    return sync_gateway_catalog(gateway_id, **_discovered(found))


def _discovered(found: Any) -> dict[str, Any]:
    """Keyword arguments of ``sync_gateway_catalog`` from a runtime's discovery (a dict or an object)."""
    get = found.get if isinstance(found, dict) else lambda key, default=None: getattr(found, key, default)
    result = {
        "tools": get("tools"),
        "resources": get("resources"),
        "templates": get("templates", None) if get("templates", None) is not None else get("resource_templates"),
        "prompts": get("prompts"),
        "server_info": get("server_info"),
        "capabilities": get("capabilities"),
        "protocol_version": get("protocol_version"),
    }
    return {k: v for k, v in result.items() if v is not None}


# --- Tools ----------------------------------------------------------------------------

TOOL_FIELDS = COMMON_FIELDS | {
    "name",
    "display_name",
    "title",
    "input_schema",
    "output_schema",
    "annotations",
    "integration_type",
    "request_type",
    "url",
    "headers",
    "auth_type",
    "credentials",
    "query_mapping",
    "header_mapping",
    "body_mapping",
    "jsonpath_filter",
    "timeout_ms",
    "deprecated",
    "gateway_id",
}


def _apply_tool(principal: Principal, tool: Tool, data: dict[str, Any]) -> None:
    if tool.gateway_id is not None:
        federated_only = {"display_name", "title", "description", "annotations"} | COMMON_FIELDS
        fixed = sorted(set(data) - federated_only)
        if fixed:
            raise InvalidInput({f: "is set by the upstream gateway for a federated tool" for f in fixed})
    if "name" in data:
        tool.name = clean_text("name", data["name"], max_length=128, required=True, pattern=TOOL_NAME_RE)
        if tool.gateway_id is None:
            tool.original_name = tool.name
    for field in ("display_name", "title"):
        if field in data:
            setattr(tool, field, clean_text(field, data[field]))
    if "input_schema" in data:
        tool.input_schema = clean_json_schema("input_schema", data["input_schema"], required_object=True)
    if "output_schema" in data:
        tool.output_schema = clean_json_schema("output_schema", data["output_schema"])
    if "annotations" in data:
        if not isinstance(data["annotations"] or {}, dict):
            raise InvalidInput("must be an object", "annotations")
        tool.annotations = data["annotations"] or {}
    if "integration_type" in data and data["integration_type"] != IntegrationType.REST:
        raise InvalidInput(
            "only REST tools are created directly; MCP and A2A tools come from gateways and agents",
            "integration_type",
        )
    if "request_type" in data:
        if data["request_type"] not in Tool.Method.values:
            raise InvalidInput(f"must be one of {', '.join(Tool.Method.values)}", "request_type")
        tool.request_type = data["request_type"]
    if "url" in data:
        tool.url = clean_url("url", data["url"])
        _check_url_template(tool.url)
    if "headers" in data:
        tool.headers = clean_headers("headers", data["headers"])
    for field in ("query_mapping", "header_mapping", "body_mapping"):
        if field in data:
            setattr(tool, field, clean_str_map(field, data[field]))
    if "jsonpath_filter" in data:
        tool.jsonpath_filter = clean_jsonpath("jsonpath_filter", data["jsonpath_filter"])
    if "timeout_ms" in data:
        timeout = data["timeout_ms"]
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 < timeout <= 600000
        ):
            raise InvalidInput("must be a whole number of milliseconds between 1 and 600000", "timeout_ms")
        tool.timeout_ms = timeout
    if "deprecated" in data:
        tool.deprecated = _bool(data, "deprecated")
    if "auth_type" in data or "credentials" in data:
        auth_type = data.get("auth_type") or tool.auth_type
        if auth_type == "oauth":
            raise InvalidInput("REST tools support none, basic, bearer, headers or query_param", "auth_type")
        if "credentials" in data or auth_type != tool.auth_type:
            tool.auth_secret = encrypt_json(_clean_auth("credentials", auth_type, data.get("credentials")))
        tool.auth_type = auth_type
    if tool.gateway_id is None and tool.integration_type == IntegrationType.REST and not tool.url:
        raise InvalidInput("a REST tool needs a url", "url")


def _check_url_template(url: str) -> None:
    """Placeholders of a REST tool URL must be balanced ``{identifier}``s."""
    try:
        names = [name for _, name, spec, _ in string.Formatter().parse(url) if name is not None]
    except ValueError as exc:
        raise InvalidInput(f"is not a valid URL template: {exc}", "url") from exc
    bad = [n for n in names if not n.isidentifier()]
    if bad:
        raise InvalidInput(f"placeholders must be identifiers, not {bad}", "url")


@transaction.atomic
def create_tool(principal: Principal, data: dict[str, Any]) -> Tool:
    """Register a local REST tool."""
    _reject_unknown(data, TOOL_FIELDS)
    if data.get("gateway_id"):
        raise InvalidInput("federated tools are discovered from their gateway, not created", "gateway_id")
    data = {k: v for k, v in data.items() if k != "gateway_id"}
    tool = Tool(integration_type=IntegrationType.REST, input_schema={"type": "object", "properties": {}})
    _apply_ownership(principal, tool, data, creating=True)
    _apply_tool(principal, tool, {"name": None, **data})
    _ensure_unique(tool, "name", tool.name)
    _save(tool, "name")
    _audit(principal, "tool.create", tool, name=tool.name)
    _changed("tool", [tool.pk])
    return tool


@transaction.atomic
def update_tool(principal: Principal, tool_id: str, data: dict[str, Any]) -> Tool:
    """Change a tool (federated tools: presentation fields and ownership only)."""
    _reject_unknown(data, TOOL_FIELDS)
    tool = _get_for_edit(principal, Tool, tool_id, "update")
    data = {k: v for k, v in data.items() if not (k == "gateway_id" and str(v or "") == str(tool.gateway_id or ""))}
    _apply_ownership(principal, tool, data, creating=False)
    _apply_tool(principal, tool, data)
    _ensure_unique(tool, "name", tool.name)
    _save(tool, "name")
    _check_servers_of(tool)
    _audit(principal, "tool.update", tool, fields=sorted(set(data) - {"credentials"}))
    _changed("tool", [tool.pk])
    return tool


def _check_servers_of(tool: Tool) -> None:
    """Refuse a tool change that would make exposed names collide in a server that bundles it."""
    for server in VirtualServer.objects.filter(server_tools__tool=tool).distinct():
        members = [(st.tool_id, st.alias) for st in server.server_tools.all()]
        _exposed_names(members, field="name")


# --- Resources and templates ----------------------------------------------------------

RESOURCE_FIELDS = COMMON_FIELDS | {"uri", "name", "title", "mime_type", "content", "blob", "annotations"}


def _apply_resource(resource: Resource, data: dict[str, Any]) -> None:
    if "uri" in data:
        resource.uri = clean_text("uri", data["uri"], max_length=2048, required=True)
        if ":" not in resource.uri:
            raise InvalidInput("must be an absolute URI with a scheme (e.g. file:///notes.txt)", "uri")
    for field in ("name", "title"):
        if field in data:
            setattr(resource, field, clean_text(field, data[field], required=field == "name"))
    if "mime_type" in data:
        resource.mime_type = clean_text("mime_type", data["mime_type"], max_length=255)
    if "annotations" in data:
        if not isinstance(data["annotations"] or {}, dict):
            raise InvalidInput("must be an object", "annotations")
        resource.annotations = data["annotations"] or {}
    if "content" in data or "blob" in data:
        if resource.gateway_id is not None:
            raise InvalidInput("federated resources are read from their gateway", "content")
        if "content" in data and "blob" in data:
            raise InvalidInput("give either content (text) or blob (base64), not both", "content")
        blob = "blob" in data
        raw = data["blob"] if blob else data["content"]
        if raw is not None and not isinstance(raw, str | bytes):
            raise InvalidInput("must be a string", "blob" if blob else "content")
        text, binary, mime, size = normalise_content(resource.uri, raw, resource.mime_type, base64_blob=blob)
        resource.text_content, resource.binary_content = text, binary
        resource.mime_type, resource.size = mime, size


def resource_cache_key(resource_id: str) -> str:
    """Cache key of a resource's read result."""
    return f"catalog:resource:{resource_id}"


def _invalidate_resource(resource_id: str) -> None:
    transaction.on_commit(lambda: cache.delete(resource_cache_key(resource_id)))


@transaction.atomic
def create_resource(principal: Principal, data: dict[str, Any]) -> Resource:
    """Register a local resource with text or binary content."""
    _reject_unknown(data, RESOURCE_FIELDS)
    resource = Resource()
    _apply_ownership(principal, resource, data, creating=True)
    if "content" not in data and "blob" not in data:
        data = {**data, "content": None}
    _apply_resource(resource, {"uri": None, "name": None, **data})
    _ensure_unique(resource, "uri", resource.uri)
    _save(resource, "uri")
    _audit(principal, "resource.create", resource, uri=resource.uri)
    _changed("resource", [resource.pk])
    return resource


@transaction.atomic
def update_resource(principal: Principal, resource_id: str, data: dict[str, Any]) -> Resource:
    """Change a resource's fields or content."""
    _reject_unknown(data, RESOURCE_FIELDS)
    resource = _get_for_edit(principal, Resource, resource_id, "update")
    _apply_ownership(principal, resource, data, creating=False)
    _apply_resource(resource, data)
    _ensure_unique(resource, "uri", resource.uri)
    _save(resource, "uri")
    _audit(principal, "resource.update", resource, fields=sorted(data))
    _invalidate_resource(resource.pk)
    _changed("resource", [resource.pk])
    return resource


TEMPLATE_FIELDS = COMMON_FIELDS | {"uri_template", "name", "title", "mime_type"}


def _apply_template(template: ResourceTemplate, data: dict[str, Any]) -> None:
    if "uri_template" in data:
        template.uri_template = clean_text("uri_template", data["uri_template"], max_length=2048, required=True)
        if "{" not in template.uri_template or template.uri_template.count("{") != template.uri_template.count("}"):
            raise InvalidInput("must be an RFC 6570 URI template with {variables}", "uri_template")
    for field in ("name", "title", "mime_type"):
        if field in data:
            setattr(template, field, clean_text(field, data[field], required=field == "name"))


@transaction.atomic
def create_resource_template(principal: Principal, data: dict[str, Any]) -> ResourceTemplate:
    """Register a local resource template."""
    _reject_unknown(data, TEMPLATE_FIELDS)
    template = ResourceTemplate()
    _apply_ownership(principal, template, data, creating=True)
    _apply_template(template, {"uri_template": None, "name": None, **data})
    _ensure_unique(template, "uri_template", template.uri_template)
    _save(template, "uri_template")
    _audit(principal, "resource_template.create", template)
    _changed("resource", [template.pk])
    return template


@transaction.atomic
def update_resource_template(principal: Principal, template_id: str, data: dict[str, Any]) -> ResourceTemplate:
    """Change a resource template."""
    _reject_unknown(data, TEMPLATE_FIELDS)
    template = _get_for_edit(principal, ResourceTemplate, template_id, "update")
    _apply_ownership(principal, template, data, creating=False)
    _apply_template(template, data)
    _ensure_unique(template, "uri_template", template.uri_template)
    _save(template, "uri_template")
    _audit(principal, "resource_template.update", template, fields=sorted(data))
    _changed("resource", [template.pk])
    return template


# --- Prompts --------------------------------------------------------------------------

PROMPT_FIELDS = COMMON_FIELDS | {"name", "display_name", "title", "template", "arguments"}


def _apply_prompt(prompt: Prompt, data: dict[str, Any]) -> None:
    if prompt.gateway_id is not None:
        fixed = sorted(set(data) - ({"display_name", "title"} | COMMON_FIELDS))
        if fixed:
            raise InvalidInput({f: "is set by the upstream gateway for a federated prompt" for f in fixed})
    if "name" in data:
        prompt.name = clean_text("name", data["name"], max_length=128, required=True, pattern=TOOL_NAME_RE)
        if prompt.gateway_id is None:
            prompt.original_name = prompt.name
    for field in ("display_name", "title"):
        if field in data:
            setattr(prompt, field, clean_text(field, data[field]))
    if "arguments" in data:
        prompt.arguments = clean_arguments("arguments", data["arguments"])
    if ("template" in data or "arguments" in data) and prompt.gateway_id is None:
        template, variables = clean_template("template", data.get("template", prompt.template), prompt_environment)
        prompt.template = template
        declared = {a["name"] for a in prompt.arguments}
        if "arguments" not in data and not declared:
            prompt.arguments = [{"name": v, "description": "", "required": True} for v in sorted(variables)]
        else:
            undeclared = sorted(variables - declared)
            if undeclared:
                raise InvalidInput(f"template uses undeclared argument(s): {', '.join(undeclared)}", "arguments")


@transaction.atomic
def create_prompt(principal: Principal, data: dict[str, Any]) -> Prompt:
    """Register a local prompt template (arguments derived from the template when not given)."""
    _reject_unknown(data, PROMPT_FIELDS)
    prompt = Prompt()
    _apply_ownership(principal, prompt, data, creating=True)
    _apply_prompt(prompt, {"name": None, "template": None, **data})
    _ensure_unique(prompt, "name", prompt.name)
    _save(prompt, "name")
    _audit(principal, "prompt.create", prompt, name=prompt.name)
    _changed("prompt", [prompt.pk])
    return prompt


@transaction.atomic
def update_prompt(principal: Principal, prompt_id: str, data: dict[str, Any]) -> Prompt:
    """Change a prompt."""
    _reject_unknown(data, PROMPT_FIELDS)
    prompt = _get_for_edit(principal, Prompt, prompt_id, "update")
    _apply_ownership(principal, prompt, data, creating=False)
    _apply_prompt(prompt, data)
    _ensure_unique(prompt, "name", prompt.name)
    _save(prompt, "name")
    _audit(principal, "prompt.update", prompt, fields=sorted(data))
    _changed("prompt", [prompt.pk])
    return prompt


# --- Virtual servers ------------------------------------------------------------------

SERVER_FIELDS = COMMON_FIELDS | {"name", "icon", "tools", "resources", "resource_templates", "prompts"}


def _exposed_names(members: list[tuple[str, str]], field: str = "associated_tools") -> dict[str, str]:
    tools = {t.pk: t for t in Tool.objects.filter(pk__in=[m[0] for m in members])}
    try:
        return exposed_tool_names(
            ExposedTool(tool_id, tools[tool_id].original_name, tools[tool_id].name, alias) for tool_id, alias in members
        )
    except NameCollision as exc:
        raise Conflict(str(exc), field) from exc


def _clean_members(principal: Principal, model, field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > 5000:
        raise InvalidInput("must be a list of ids", field)
    ids = []
    for item in value:
        if not isinstance(item, str | int) or isinstance(item, bool):
            raise InvalidInput("must be a list of ids", field)
        if str(item) not in ids:
            ids.append(str(item))
    found = set(model.objects.visible_to(principal, "view").filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"unknown id(s): {', '.join(missing[:10])}", field)
    return ids


def _clean_server_tools(principal: Principal, value: Any) -> list[tuple[str, str]]:
    """Tools as a list of ids or of {"id", "alias"}; returns (id, alias) pairs."""
    if not isinstance(value, list):
        raise InvalidInput('must be a list of tool ids or {"id", "alias"} objects', "associated_tools")
    pairs: list[tuple[str, str]] = []
    for item in value:
        if isinstance(item, dict):
            unknown = set(item) - {"id", "alias"}
            if unknown or "id" not in item:
                raise InvalidInput('items must be ids or {"id", "alias"} objects', "associated_tools")
            alias = clean_text("associated_tools.alias", item.get("alias"), max_length=128, pattern=TOOL_NAME_RE)
            pairs.append((str(item["id"]), alias))
        else:
            pairs.append((item, ""))
    ids = _clean_members(principal, Tool, "associated_tools", [p[0] for p in pairs])
    aliases = {}
    for tool_id, alias in pairs:
        aliases[str(tool_id)] = alias or aliases.get(str(tool_id), "")
    return [(i, aliases[i]) for i in ids]


def _apply_server(principal: Principal, server: VirtualServer, data: dict[str, Any]) -> dict[str, Any]:
    if "name" in data:
        server.name = clean_text("name", data["name"], required=True)
    if "icon" in data:
        server.icon = clean_text("icon", data["icon"], max_length=2048)
    members: dict[str, Any] = {}
    if "tools" in data:
        members["tools"] = _clean_server_tools(principal, data["tools"] or [])
        _exposed_names(members["tools"])
    for field, model in (("resources", Resource), ("resource_templates", ResourceTemplate), ("prompts", Prompt)):
        if field in data:
            members[field] = _clean_members(principal, model, f"associated_{field}", data[field] or [])
    return members


def _store_members(server: VirtualServer, members: dict[str, Any]) -> None:
    if "tools" in members:
        server.server_tools.all().delete()
        ServerTool.objects.bulk_create(
            ServerTool(server=server, tool_id=tool_id, alias=alias) for tool_id, alias in members["tools"]
        )
    for field in ("resources", "resource_templates", "prompts"):
        if field in members:
            getattr(server, field).set(members[field])


@transaction.atomic
def create_server(principal: Principal, data: dict[str, Any]) -> VirtualServer:
    """Create a virtual server bundling visible tools (with aliases), resources and prompts."""
    _reject_unknown(data, SERVER_FIELDS)
    server = VirtualServer()
    _apply_ownership(principal, server, data, creating=True)
    members = _apply_server(principal, server, {"name": None, **data})
    _ensure_unique(server, "name", server.name)
    _save(server, "name")
    _store_members(server, members)
    _audit(principal, "server.create", server, name=server.name)
    _changed("server", [server.pk])
    return server


@transaction.atomic
def update_server(principal: Principal, server_id: str, data: dict[str, Any]) -> VirtualServer:
    """Change a virtual server; member lists given replace the old ones."""
    _reject_unknown(data, SERVER_FIELDS)
    server = _get_for_edit(principal, VirtualServer, server_id, "update")
    _apply_ownership(principal, server, data, creating=False)
    members = _apply_server(principal, server, data)
    _ensure_unique(server, "name", server.name)
    _save(server, "name")
    _store_members(server, members)
    _audit(principal, "server.update", server, fields=sorted(data))
    _changed("server", [server.pk])
    return server


# --- Shared actions -------------------------------------------------------------------


@transaction.atomic
def set_enabled(principal: Principal, model: type[models.Model], pk: str, enabled: bool) -> models.Model:
    """Enable or disable any catalog entity (a gateway's state carries to its tools)."""
    obj = _get_for_edit(principal, model, pk, "update")
    obj.enabled = enabled
    obj.save(update_fields=["enabled", "updated_at"])
    if model is Gateway:
        Tool.objects.filter(gateway=obj).update(enabled=enabled)
        _changed("tool", Tool.objects.filter(gateway=obj).values_list("pk", flat=True))
    if model is Resource:
        _invalidate_resource(obj.pk)
    _audit(principal, f"{KIND_OF[model]}.{'enable' if enabled else 'disable'}", obj)
    _changed(KIND_OF[model], [obj.pk])
    return obj


@transaction.atomic
def delete_entity(principal: Principal, model: type[models.Model], pk: str) -> None:
    """Delete a catalog entity (a gateway takes its federated entities with it)."""
    obj = _get_for_edit(principal, model, pk, "delete")
    _audit(principal, f"{KIND_OF[model]}.delete", obj, name=str(obj))
    if model is Resource:
        _invalidate_resource(obj.pk)
    obj.delete()
    _changed(KIND_OF[model], [pk])

"""Django admin for the catalog.

Every save and bulk action goes through ``apps.catalog.services`` as the signed-in
user's Principal: a form is first validated by running the service in a transaction
that is rolled back (so service errors appear on the form, naming the field), then
saved for real. Querysets are restricted with ``visible_to``. JSON is shown indented.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import Count, Max, OuterRef, Subquery
from django.utils.html import format_html

from apps.teams.principals import principal_for_user

from . import services, upstream_oauth
from .errors import ServiceError
from .models import (
    AuditEntry,
    Gateway,
    InvocationMetric,
    MetricRollup,
    Prompt,
    Resource,
    ResourceTemplate,
    ServerTool,
    Tool,
    VirtualServer,
)
from .selectors import visible


class PrettyJSONField(forms.JSONField):
    """A JSON form field that shows its value indented."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


JSON_OVERRIDES = {
    models.JSONField: {
        "form_class": PrettyJSONField,
        "widget": forms.Textarea(attrs={"rows": 8, "cols": 80, "style": "font-family: monospace"}),
    }
}


def pretty_json(value: Any) -> str:
    """JSON as an indented <pre> block for read-only display."""
    return format_html("<pre style='margin:0'>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


class _DryRun(Exception):
    """Rolls back the validation run of a service call."""


class ServiceAdmin(admin.ModelAdmin):
    """Base admin: restricted queryset, saves through the services, enable/disable actions."""

    formfield_overrides = JSON_OVERRIDES
    actions = ["enable_selected", "disable_selected"]
    create_service = None
    update_service = None
    #: model fields the form edits, passed to the service under the same names (team -> team_id)
    service_fields: tuple[str, ...] = ()
    extra_form_fields: dict[str, forms.Field] = {}
    list_select_related = ("team", "owner")

    def principal(self, request):
        """The signed-in user as a Principal."""
        return principal_for_user(request.user)

    def get_queryset(self, request):
        return visible(self.model, self.principal(request)).select_related(*self.list_select_related)

    def fields_for(self, obj) -> tuple[str, ...]:
        """Hook: the model fields the form edits for this object."""
        return self.service_fields

    def extra_fields_for(self, request, obj) -> dict[str, forms.Field]:
        """Hook: non-model form fields (credentials, members...)."""
        return dict(self.extra_form_fields)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = [*self.fields_for(obj), "team", "visibility", "tags", "description", "enabled"]
        base = super().get_form(request, obj, change=change, **kwargs)
        admin_self = self
        extra = self.extra_fields_for(request, obj)

        def __init__(form, *args, **kw):
            base.__init__(form, *args, **kw)
            admin_self.init_extra(form, obj)

        def _post_clean(form):
            """Validate through the service (rolled back), mapping its errors onto fields."""
            if form.errors:
                return
            try:
                with transaction.atomic():
                    admin_self.call_service(request, form, obj)
                    raise _DryRun
            except _DryRun:
                pass
            except ServiceError as exc:
                for field, message in exc.errors.items():
                    form.add_error(admin_self.form_field_for(field, form), message)

        attrs = {**extra, "__init__": __init__, "_post_clean": _post_clean, "extra_names": tuple(extra)}
        return type(f"{self.model.__name__}ServiceForm", (base,), attrs)

    def init_extra(self, form, obj) -> None:
        """Hook: initial values of the extra form fields."""

    def form_field_for(self, service_field: str, form) -> str | None:
        name = "team" if service_field == "team_id" else service_field
        return name if name in form.fields else None

    def service_data(self, form, obj) -> dict[str, Any]:
        """Changed (or, on create, all) form values under service field names."""
        names = form.changed_data if obj is not None else list(form.cleaned_data)
        data = {}
        for name in names:
            value = form.cleaned_data.get(name)
            if name == "team":
                data["team_id"] = value.pk if value else None
            elif name in form.extra_names:
                self.extra_to_service(name, value, data)
            else:
                data[name] = value
        return data

    def extra_to_service(self, name: str, value: Any, data: dict[str, Any]) -> None:
        """Hook: map an extra form field into the service data."""
        if value not in (None, "", {}):
            data[name] = value

    def call_service(self, request, form, obj):
        data = self.service_data(form, obj)
        if obj is None:
            return type(self).create_service(self.principal(request), data)
        return type(self).update_service(self.principal(request), obj.pk, data)

    def save_model(self, request, obj, form, change):
        saved = self.call_service(request, form, obj if change else None)
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """Relations are written by the service, not by the form."""

    def delete_model(self, request, obj):
        services.delete_entity(self.principal(request), self.model, obj.pk)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete_entity(self.principal(request), self.model, obj.pk)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                services.set_enabled(self.principal(request), self.model, pk, enabled)
                done += 1
            except ServiceError as exc:
                self.message_user(request, f"{pk}: {exc}", messages.ERROR)
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {done} item(s).")

    @admin.action(description="Enable selected")
    def enable_selected(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected")
    def disable_selected(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def refresh_gateways(self, request, gateway_ids) -> None:
        for gateway_id in sorted(set(gateway_ids)):
            try:
                report = services.refresh_gateway(self.principal(request), gateway_id)
            except ServiceError as exc:
                self.message_user(request, f"{gateway_id}: {exc}", messages.ERROR)
                continue
            level = messages.SUCCESS if report.get("success") else messages.ERROR
            self.message_user(request, f"{gateway_id}: {json.dumps(report, default=str)}", level)


def _last_call():
    rows = InvocationMetric.objects.filter(entity_id=OuterRef("pk")).order_by().values("entity_id")
    return Subquery(rows.annotate(last=Max("started_at")).values("last")[:1])


class LastCallMixin:
    """Adds the time of the entity's last recorded invocation."""

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(last_call=_last_call())

    @admin.display(description="Last call", ordering="last_call")
    def last_call(self, obj):
        return obj.last_call


CREDENTIALS_HELP = (
    'JSON, stored encrypted and never shown: basic {"username", "password"}, bearer {"token"}, '
    'headers {"headers": {...}}, query_param {"key", "value"}, oauth {"config": {...}}. Leave empty to keep.'
)


class CredentialsMixin:
    """A write-only credentials field."""

    extra_form_fields = {"credentials": forms.JSONField(required=False, help_text=CREDENTIALS_HELP)}

    @admin.display(description="Credentials")
    def credentials_state(self, obj):
        return f"{obj.auth_type} (stored encrypted)" if obj.auth_secret else obj.auth_type


@admin.register(Gateway)
class GatewayAdmin(CredentialsMixin, ServiceAdmin):
    """Upstream gateways with health and a refresh action."""

    create_service = services.create_gateway
    update_service = services.update_gateway
    service_fields = (
        "name",
        "transport",
        "url",
        "command",
        "args",
        "env",
        "cwd",
        "auth_type",
        "passthrough_headers",
        "timeout_seconds",
    )
    list_display = (
        "name",
        "slug",
        "transport",
        "url",
        "team",
        "visibility",
        "enabled",
        "reachable",
        "last_seen",
        "consecutive_failures",
        "tool_count",
        "last_refresh_at",
    )
    list_filter = ("transport", "enabled", "reachable", "visibility", "auth_type", "team")
    search_fields = ("name", "slug", "url", "command", "description")
    readonly_fields = (
        "slug",
        "credentials_state",
        "oauth_authorization",
        "health",
        "server_info_json",
        "capabilities_json",
    )
    actions = [*ServiceAdmin.actions, "refresh_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_tools=Count("tools", distinct=True))

    @admin.display(description="Tools", ordering="n_tools")
    def tool_count(self, obj):
        return obj.n_tools

    @admin.display(description="Health")
    def health(self, obj):
        return pretty_json(
            {
                "reachable": obj.reachable,
                "last_seen": obj.last_seen,
                "consecutive_failures": obj.consecutive_failures,
                "last_error": obj.last_error,
                "protocol_version": obj.protocol_version,
            }
        )

    @admin.display(description="OAuth authorization")
    def oauth_authorization(self, obj):
        """Authorization code gateways: "authorized until …" or "needs authorization", and the link to (re)start."""
        if obj is None or obj.pk is None or not services.uses_authorization_code(obj):
            return "-"
        state = upstream_oauth.token_state(obj)
        back = f"/admin/catalog/gateway/{obj.pk}/change/"
        label = "Authorize again" if state["authorized"] else "Authorize"
        return format_html(
            '{} &nbsp; <a class="button" href="/oauth/authorize/{}?next={}">{}</a>',
            state["message"].split(": start it at")[0],
            obj.pk,
            back,
            label,
        )

    @admin.display(description="Server info")
    def server_info_json(self, obj):
        return pretty_json(obj.server_info)

    @admin.display(description="Capabilities")
    def capabilities_json(self, obj):
        return pretty_json(obj.capabilities)

    @admin.action(description="Refresh from upstream")
    def refresh_selected(self, request, queryset):
        self.refresh_gateways(request, queryset.values_list("pk", flat=True))


@admin.register(Tool)
class ToolAdmin(CredentialsMixin, LastCallMixin, ServiceAdmin):
    """Tools: local REST tools are editable; federated ones only in presentation and ownership."""

    create_service = services.create_tool
    update_service = services.update_tool
    service_fields = (
        "name",
        "display_name",
        "title",
        "input_schema",
        "output_schema",
        "annotations",
        "request_type",
        "url",
        "headers",
        "auth_type",
        "query_mapping",
        "header_mapping",
        "body_mapping",
        "jsonpath_filter",
        "timeout_ms",
        "deprecated",
    )
    list_display = (
        "name",
        "original_name",
        "integration_type",
        "gateway",
        "team",
        "visibility",
        "enabled",
        "reachable",
        "last_call",
    )
    list_filter = ("integration_type", "enabled", "reachable", "visibility", "deprecated", "team", "gateway")
    search_fields = ("name", "original_name", "display_name", "description", "url")
    readonly_fields = ("original_name", "integration_type", "gateway", "credentials_state")
    list_select_related = ("team", "owner", "gateway")
    actions = [*ServiceAdmin.actions, "refresh_selected"]

    def fields_for(self, obj):
        if obj is not None and obj.gateway_id:
            return ("display_name", "title", "annotations")
        return self.service_fields

    def extra_fields_for(self, request, obj):
        return {} if obj is not None and obj.gateway_id else dict(self.extra_form_fields)

    @admin.action(description="Refresh from upstream (the gateways of the selected tools)")
    def refresh_selected(self, request, queryset):
        self.refresh_gateways(request, queryset.exclude(gateway=None).values_list("gateway_id", flat=True))


@admin.register(Resource)
class ResourceAdmin(LastCallMixin, ServiceAdmin):
    """Resources; text content is edited here (binary content through the API)."""

    create_service = services.create_resource
    update_service = services.update_resource
    service_fields = ("uri", "name", "title", "mime_type", "annotations")
    extra_form_fields = {
        "content": forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 10}), strip=False)
    }
    list_display = ("uri", "name", "mime_type", "size", "gateway", "team", "visibility", "enabled", "last_call")
    list_filter = ("enabled", "visibility", "mime_type", "team", "gateway")
    search_fields = ("uri", "name", "description")
    readonly_fields = ("size", "gateway")
    list_select_related = ("team", "owner", "gateway")

    def init_extra(self, form, obj):
        if obj is not None and obj.text_content is not None:
            form.fields["content"].initial = obj.text_content

    def extra_to_service(self, name, value, data):
        data["content"] = value


@admin.register(ResourceTemplate)
class ResourceTemplateAdmin(ServiceAdmin):
    """Resource templates."""

    create_service = services.create_resource_template
    update_service = services.update_resource_template
    service_fields = ("uri_template", "name", "title", "mime_type")
    list_display = ("uri_template", "name", "gateway", "team", "visibility", "enabled")
    list_filter = ("enabled", "visibility", "team", "gateway")
    search_fields = ("uri_template", "name", "description")
    list_select_related = ("team", "owner", "gateway")


@admin.register(Prompt)
class PromptAdmin(LastCallMixin, ServiceAdmin):
    """Prompts (Jinja2 templates, rendered sandboxed)."""

    create_service = services.create_prompt
    update_service = services.update_prompt
    service_fields = ("name", "display_name", "title", "template", "arguments")
    list_display = ("name", "original_name", "gateway", "team", "visibility", "enabled", "last_call")
    list_filter = ("enabled", "visibility", "team", "gateway")
    search_fields = ("name", "original_name", "display_name", "description", "template")
    list_select_related = ("team", "owner", "gateway")

    def fields_for(self, obj):
        return ("display_name", "title") if obj is not None and obj.gateway_id else self.service_fields


class ServerToolInline(admin.TabularInline):
    """The server's tools and aliases (edited through the form above, shown here)."""

    model = ServerTool
    extra = 0
    can_delete = False
    fields = ("tool", "alias")
    readonly_fields = ("tool", "alias")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(VirtualServer)
class VirtualServerAdmin(ServiceAdmin):
    """Virtual servers: members and aliases are saved through the service (collisions refused)."""

    create_service = services.create_server
    update_service = services.update_server
    service_fields = ("name", "icon")
    list_display = ("name", "team", "visibility", "enabled", "tool_count", "updated_at")
    list_filter = ("enabled", "visibility", "team")
    search_fields = ("name", "description")
    inlines = [ServerToolInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_tools=Count("server_tools", distinct=True))

    @admin.display(description="Tools", ordering="n_tools")
    def tool_count(self, obj):
        return obj.n_tools

    def extra_fields_for(self, request, obj):
        principal = self.principal(request)
        return {
            "tools": forms.ModelMultipleChoiceField(visible(Tool, principal), required=False),
            "tool_aliases": forms.JSONField(required=False, help_text='{"<tool id>": "alias"}'),
            "resources": forms.ModelMultipleChoiceField(visible(Resource, principal), required=False),
            "resource_templates": forms.ModelMultipleChoiceField(visible(ResourceTemplate, principal), required=False),
            "prompts": forms.ModelMultipleChoiceField(visible(Prompt, principal), required=False),
        }

    def init_extra(self, form, obj):
        if obj is None:
            return
        links = list(obj.server_tools.all())
        form.fields["tools"].initial = [st.tool_id for st in links]
        form.fields["tool_aliases"].initial = {st.tool_id: st.alias for st in links if st.alias}
        for name in ("resources", "resource_templates", "prompts"):
            form.fields[name].initial = list(getattr(obj, name).values_list("pk", flat=True))

    def service_data(self, form, obj):
        data = super().service_data(form, obj)
        if "tools" in data or "tool_aliases" in data:
            aliases = form.cleaned_data.get("tool_aliases") or {}
            data.pop("tool_aliases", None)
            data["tools"] = [{"id": t.pk, "alias": aliases.get(t.pk, "")} for t in form.cleaned_data.get("tools") or []]
        return data

    def extra_to_service(self, name, value, data):
        data[name] = [o.pk for o in value] if name != "tool_aliases" else value

    def form_field_for(self, service_field, form):
        if service_field == "associated_tools":
            return "tools"
        if service_field.startswith("associated_"):
            return service_field.removeprefix("associated_")
        return super().form_field_for(service_field, form)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the system only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(InvocationMetric)
class InvocationMetricAdmin(ReadOnlyAdmin):
    """Raw invocation metrics."""

    list_display = ("started_at", "kind", "entity_name", "success", "error_code", "latency_ms", "user_id", "server_id")
    list_filter = ("kind", "success", "error_code")
    search_fields = ("entity_name", "entity_id", "server_id")
    date_hierarchy = "started_at"


@admin.register(MetricRollup)
class MetricRollupAdmin(ReadOnlyAdmin):
    """Hourly metric rollups."""

    list_display = ("hour", "kind", "entity_name", "calls", "failures", "avg_latency", "max_latency_ms")
    list_filter = ("kind",)
    search_fields = ("entity_name", "entity_id")
    date_hierarchy = "hour"

    @admin.display(description="Avg latency (ms)")
    def avg_latency(self, obj):
        return round(obj.total_latency_ms / obj.calls, 1) if obj.calls else None


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The catalog's audit trail."""

    list_display = ("created_at", "actor_email", "action", "entity_type", "entity_id", "client_ip")
    list_filter = ("action", "entity_type")
    search_fields = ("actor_email", "entity_id", "action")
    date_hierarchy = "created_at"
    readonly_fields = ("detail_json",)
    exclude = ("detail",)

    @admin.display(description="Detail")
    def detail_json(self, obj):
        return pretty_json(obj.detail)

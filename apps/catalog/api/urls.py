"""Routes of the catalog REST API, mounted under /v1 by contextforge/urls.py."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .discovery import SearchView, TagsView
from .views import GatewayViewSet, PromptViewSet, ResourceTemplateViewSet, ResourceViewSet, ServerViewSet, ToolViewSet


class OptionalSlashRouter(SimpleRouter):
    """Routes answer with and without a trailing slash, as ContextForge's do."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("gateways", GatewayViewSet, basename="gateway")
router.register("tools", ToolViewSet, basename="tool")
router.register("resources/templates", ResourceTemplateViewSet, basename="resource-template")
router.register("resources", ResourceViewSet, basename="resource")
router.register("prompts", PromptViewSet, basename="prompt")
router.register("servers", ServerViewSet, basename="server")

urlpatterns = [
    re_path(
        r"^resources/templates/list/?$",
        ResourceTemplateViewSet.as_view({"get": "list_result"}),
        name="resource-template-list-result",
    ),
    re_path(
        r"^prompts/(?P<pk>[0-9a-fA-F-]{1,36})/?$",
        PromptViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy", "post": "render"}
        ),
        name="prompt-render",
    ),
    re_path(r"^tags/?$", TagsView.as_view(), name="tags"),
    re_path(r"^search/?$", SearchView.as_view(), name="search"),
    *router.urls,
]

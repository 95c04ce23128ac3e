"""Property-based run of the /v1 catalog API from its own OpenAPI document: no input yields a 5xx."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings

from apps.catalog import services
from apps.teams.principals import principal_for_user
from tests.personas import api_client

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 8
JSON_TYPES = (dict, list, str, int, float, bool, type(None))


def _seed(personas):
    owner = principal_for_user(personas.owner)
    tool = services.create_tool(owner, {"name": "seed", "url": "http://127.0.0.1:9/x", "team_id": personas.team.pk})
    services.create_prompt(owner, {"name": "seed_prompt", "template": "Hi {{ who }}"})
    services.create_resource(owner, {"uri": "file:///seed.txt", "name": "seed", "content": "x"})
    services.create_server(owner, {"name": "seed", "tools": [tool.pk]})


def test_catalog_api_never_answers_5xx(personas):
    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(document).include(
        path_regex=r"^/v1/(tools|gateways|resources|prompts|servers|tags|search)"
    )
    _seed(personas)
    client = api_client(personas.owner)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    failures = []
    statuses: set[int] = set()

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            path = case.formatted_path
            if case.query:
                path += "?" + urlencode(case.query, doseq=True)
            kwargs = {}
            if case.body is not None and isinstance(case.body, JSON_TYPES) and case.method.upper() != "GET":
                kwargs = {"data": json.dumps(case.body), "content_type": "application/json"}
            response = client.generic(case.method.upper(), path, **kwargs)
            statuses.add(response.status_code)
            if response.status_code >= 500:  # collected, not raised: no shrinking, a bounded run
                failures.append(f"{case.method} {path} {kwargs.get('data', '')[:300]} -> {response.status_code}")

        run()
    assert not failures, "\n".join(failures[:20])
    assert {200, 201} & statuses and {400, 404} <= statuses  # the run reached real work and real refusals

"""Requests are traced with OpenTelemetry."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contextforge.observability import configure_tracing


@pytest.mark.django_db
def test_a_request_produces_a_server_span():
    from django.test import Client

    provider = configure_tracing()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert trace.get_tracer_provider() is provider
    response = Client().get("/version")
    assert response.status_code == 200
    spans = [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert spans, "no server span recorded"
    assert spans[-1].attributes.get("http.route", spans[-1].attributes.get("http.target", "")).endswith("version")

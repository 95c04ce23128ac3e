"""OpenTelemetry tracing for Django requests, configured from settings."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

_configured = False


def configure_tracing(provider: TracerProvider | None = None) -> TracerProvider:
    """Install a tracer provider and instrument Django (once per process).

    OTEL_TRACES_EXPORTER chooses where spans go: none (kept in-process only),
    console, or otlp (needs opentelemetry-exporter-otlp installed).
    """
    global _configured
    if _configured:
        return trace.get_tracer_provider()
    if provider is None:
        provider = TracerProvider(resource=Resource.create({"service.name": "contextforge"}))
        exporter_name = settings.OTEL_TRACES_EXPORTER
        if exporter_name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter_name == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                raise ImproperlyConfigured(
                    "OTEL_TRACES_EXPORTER: expected opentelemetry-exporter-otlp to be installed for 'otlp'"
                ) from None
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls="health,ready")
    _configured = True
    return provider

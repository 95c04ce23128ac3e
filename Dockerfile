# syntax=docker/dockerfile:1
# ContextForge production image: multi-stage, slim, non-root, migrations then the ASGI server.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /build
COPY requirements/ requirements/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade pip \
    && /opt/venv/bin/pip install -r requirements/base.txt -r requirements/prod.txt

FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV=production \
    HOST=0.0.0.0 \
    PORT=4444 \
    WORKERS=2 \
    DATA_DIR=/app/data \
    LOG_FORMAT=json
RUN groupadd --system app && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=app:app . .
RUN mkdir -p /app/data && chown app:app /app/data \
    && SECRET_KEY=build-only-$(date +%s)-collectstatic-placeholder-0123456789 \
       JWT_SECRET_KEY=build-only-$(date +%s)-collectstatic-placeholder-0123456789 \
       ALLOWED_HOSTS=localhost PLATFORM_ADMIN_PASSWORD=unused \
       python manage.py collectstatic --noinput -v 0
USER app
EXPOSE 4444
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os,urllib.request,sys; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"4444\")}/health', timeout=4).status == 200 else 1)"
CMD ["sh", "-c", "python manage.py migrate --noinput && exec uvicorn contextforge.asgi:application --host \"$HOST\" --port \"$PORT\" --workers \"$WORKERS\" --lifespan on --no-access-log --proxy-headers --timeout-graceful-shutdown 25"]

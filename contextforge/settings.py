"""Settings for ContextForge, read from the environment.

The embedded default needs no environment at all: SQLite under ./data/, in-memory
channel layer, local-memory cache and eager Celery. Setting DATABASE_URL and
REDIS_URL switches to the production shape (PostgreSQL + Redis for cache, channel
layer and Celery). DJANGO_ENV=production refuses to start with default secrets.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import dj_database_url

from apps.accounts.sso.config import providers_from_env
from contextforge.env import (
    SettingError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data")))

DJANGO_ENV = env_choice("DJANGO_ENV", "development", ["development", "production", "test"])
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test" or "pytest" in sys.modules
DEBUG = env_bool("DEBUG", DJANGO_ENV == "development")

_DEV_SECRET = "dev-insecure-secret-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - refused in production
_DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me-0123456789-abcdefghijklmnop"  # noqa: S105 - refused in production
SECRET_KEY = env_secret("SECRET_KEY", _DEV_SECRET)
JWT_SECRET_KEY = env_secret("JWT_SECRET_KEY", _DEV_JWT_SECRET)
# Key material for encrypting upstream credentials at rest; derived from SECRET_KEY if unset.
ENCRYPTION_KEY = env_secret("ENCRYPTION_KEY", None)

if PRODUCTION:
    if DEBUG:
        raise SettingError("DEBUG", "false when DJANGO_ENV=production", "true")
    for _name, _value, _default in (
        ("SECRET_KEY", SECRET_KEY, _DEV_SECRET),
        ("JWT_SECRET_KEY", JWT_SECRET_KEY, _DEV_JWT_SECRET),
    ):
        if _value == _default or len(_value) < 32:
            raise SettingError(
                _name, "a unique secret of at least 32 characters when DJANGO_ENV=production", "<default or too short>"
            )

HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 4444, minimum=1, maximum=65535)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise SettingError("ALLOWED_HOSTS", "at least one host name when DJANGO_ENV=production", None)
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", CORS_ALLOWED_ORIGINS)

# --- Applications -----------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",  # ASGI runserver
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "channels",
    "corsheaders",
    "django_htmx",
    "guardian",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.microsoft",
    "allauth.socialaccount.providers.okta",
    "allauth.socialaccount.providers.openid_connect",
    "django_celery_beat",
    "apps.accounts",
    "apps.teams",
    "apps.catalog",
    "apps.plugins",
    "apps.protocols",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "contextforge.urls"
WSGI_APPLICATION = "contextforge.wsgi.application"
ASGI_APPLICATION = "contextforge.asgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------

DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{DATA_DIR / 'contextforge.sqlite3'}",
    ["sqlite", "postgres", "postgresql", "pgsql"],
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers proceed during a write; IMMEDIATE avoids lock-upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory, so server processes started by tests can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["OPTIONS"] = {
        "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1),
        # psycopg's pool (one per worker process); "timeout" bounds the wait for a free connection.
        "pool": {"min_size": 1, "max_size": env_int("DATABASE_POOL_SIZE", 10, minimum=1), "timeout": 10}
        if env_bool("DATABASE_POOL", not TESTING)
        else False,
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery --------------------------------------

REDIS_URL = env_url("REDIS_URL", None, ["redis", "rediss", "unix"])
USING_REDIS = REDIS_URL is not None

if USING_REDIS:
    # one Redis connection pool per process, not one per request (see contextforge/cache.py)
    CACHES = {"default": {"BACKEND": "contextforge.cache.SharedPoolRedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py's 5 s default socket timeout equals channels-redis's 5 s blocking pop, so an idle
            # receive() would fail with TimeoutError; the read timeout must exceed the pop's.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": env_str("CHANNEL_PREFIX", "contextforge"),
                "capacity": 1000,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "contextforge"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not USING_REDIS)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs; the apps add theirs. Run by celery beat, or by the in-process ticker
# when tasks are eager (the embedded default).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}
EMBEDDED_TICKER = env_bool("EMBEDDED_TICKER", CELERY_TASK_ALWAYS_EAGER and not TESTING)

# --- Auth ---------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "apps.accounts.backends.LockoutBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "apps.accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Tests create many users; the Argon2id hasher itself is tested explicitly.
    PASSWORD_HASHERS.insert(0, "django.contrib.auth.hashers.MD5PasswordHasher")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PLATFORM_ADMIN_EMAIL = env_str("PLATFORM_ADMIN_EMAIL", "admin@example.com")
PLATFORM_ADMIN_PASSWORD = env_secret("PLATFORM_ADMIN_PASSWORD", None if PRODUCTION else "changeme")
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
LOGIN_REDIRECT_URL = "/admin/"
# Single sign-on: providers enabled by their SSO_<PROVIDER>_CLIENT_ID (or added in the admin).
SOCIALACCOUNT_PROVIDERS = providers_from_env()
SOCIALACCOUNT_ADAPTER = "apps.accounts.sso.adapter.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True  # an SSO login with a verified email signs in the existing account
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False
SSO_ALLOWED_DOMAINS = env_list("SSO_ALLOWED_DOMAINS", [])
SSO_GROUPS_CLAIM = env_str("SSO_GROUPS_CLAIM", "groups")
JWT_ALGORITHM = env_choice("JWT_ALGORITHM", "HS256", ["HS256", "HS384", "HS512", "RS256", "ES256"]).upper()
JWT_ISSUER = env_str("JWT_ISSUER", "contextforge")
JWT_AUDIENCE = env_str("JWT_AUDIENCE", "contextforge-api")
JWT_EXPIRY_MINUTES = env_int("JWT_EXPIRY_MINUTES", 60 * 24 * 7, minimum=1)
JWT_LEEWAY_SECONDS = env_int("JWT_LEEWAY_SECONDS", 30, minimum=0, maximum=3600)
JWT_PRIVATE_KEY_FILE = env_str("JWT_PRIVATE_KEY_FILE", "")
JWT_PUBLIC_KEY_FILE = env_str("JWT_PUBLIC_KEY_FILE", "")
if not JWT_ALGORITHM.startswith("HS") and not (JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE):
    raise SettingError("JWT_PRIVATE_KEY_FILE", f"PEM key files (and JWT_PUBLIC_KEY_FILE) for {JWT_ALGORITHM}", None)
# Seconds a bearer token's verdict is cached (revocation bumps an epoch, so it takes effect at once).
AUTH_CACHE_SECONDS = env_int("AUTH_CACHE_SECONDS", 60, minimum=0, maximum=3600)
# Basic auth (email + password) for the legacy JSON-RPC endpoint; off by default.
BASIC_AUTH_ENABLED = env_bool("BASIC_AUTH_ENABLED", False)
MAX_FAILED_LOGIN_ATTEMPTS = env_int("MAX_FAILED_LOGIN_ATTEMPTS", 5, minimum=1)
ACCOUNT_LOCKOUT_MINUTES = env_int("ACCOUNT_LOCKOUT_MINUTES", 15, minimum=1)
EMAIL_REGISTRATION_ENABLED = env_bool("EMAIL_REGISTRATION_ENABLED", False)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "contextforge@localhost")
INVITATION_EXPIRY_DAYS = env_int("INVITATION_EXPIRY_DAYS", 7, minimum=1)
MAX_TEAMS_PER_USER = env_int("MAX_TEAMS_PER_USER", 50, minimum=1)
# Role a team member holds inside the team by membership alone (owners hold team_admin).
TEAM_MEMBER_ROLE = env_str("TEAM_MEMBER_ROLE", "developer")
MCP_REQUIRE_AUTH = env_bool("MCP_REQUIRE_AUTH", True)
# MCP serving: idle lifetime of a stateful session, SSE keep-alive period, browser origins allowed
# besides those of ALLOWED_HOSTS (DNS-rebinding protection), public base URL for OAuth metadata.
MCP_SESSION_TTL = env_int("MCP_SESSION_TTL", 3600, minimum=10)
MCP_SSE_KEEPALIVE = env_int("MCP_SSE_KEEPALIVE", 15, minimum=1, maximum=300)
MCP_ALLOWED_ORIGINS = env_list("MCP_ALLOWED_ORIGINS", CORS_ALLOWED_ORIGINS)
# Items per page of tools/list, resources/list, prompts/list and templates (cursor-paginated).
MCP_LIST_PAGE_SIZE = env_int("MCP_LIST_PAGE_SIZE", 500, minimum=1, maximum=10000)
#: Seconds a 2026-07-28 tool call suspended on input_required waits for the client's retry.
MCP_INPUT_REQUIRED_TIMEOUT = env_int("MCP_INPUT_REQUIRED_TIMEOUT", 120, minimum=1, maximum=3600)
#: Seconds a retry relayed to the worker holding its suspended call waits for each acknowledgement.
MCP_RESUME_ACK_TIMEOUT = env_int("MCP_RESUME_ACK_TIMEOUT", 3, minimum=1, maximum=60)
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "")
# Upstream OAuth (authorization code grant): seconds an authorization started at
# /oauth/authorize/<gateway> may take to come back, and the URL of the gateway's client ID
# metadata document (default: PUBLIC_BASE_URL + /oauth/client-metadata.json when that is HTTPS).
OAUTH_STATE_TTL = env_int("OAUTH_STATE_TTL", 600, minimum=30, maximum=3600)
OAUTH_CLIENT_METADATA_URL = env_str("OAUTH_CLIENT_METADATA_URL", "")
OAUTH_CLIENT_NAME = env_str("OAUTH_CLIENT_NAME", "ContextForge")
SSRF_ALLOW_PRIVATE_NETWORKS = env_bool("SSRF_ALLOW_PRIVATE_NETWORKS", not PRODUCTION)

# --- REST API -------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.api.authentication.BearerAuthentication",
        "apps.accounts.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.api.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ContextForge API",
    "DESCRIPTION": "Gateway, proxy and registry for MCP servers, A2A agents and REST APIs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["apps.catalog.api.schema.canonical_paths"],
    "ENUM_NAME_OVERRIDES": {"VisibilityEnum": "apps.teams.models.Visibility"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 10 * 1024 * 1024, minimum=1024)

# --- Protocol modules -----------------------------------------------------------

# Dotted paths of the protocol modules loaded at start-up, fixed for the process.
PROTOCOL_MODULES = env_list("PROTOCOL_MODULES", ["apps.protocols.mcp.module.MCPModule"])
MODULE_DRAIN_SECONDS = env_int("MODULE_DRAIN_SECONDS", 20, minimum=0, maximum=3600)
# Garbage collector of a serving worker: young-generation threshold (Python's default is 700;
# see contextforge/lifespan.py for why it is raised).
GC_THRESHOLDS = (env_int("GC_GEN0_THRESHOLD", 50_000, minimum=100, maximum=10_000_000), 20, 100)

# MCP upstream pool (apps/protocols/mcp/upstream): per-worker sessions to federated servers.
MCP_UPSTREAM_TIMEOUT = env_int("MCP_UPSTREAM_TIMEOUT", 60, minimum=1, maximum=3600)
MCP_UPSTREAM_CONNECT_TIMEOUT = env_int("MCP_UPSTREAM_CONNECT_TIMEOUT", 15, minimum=1, maximum=600)
MCP_UPSTREAM_MAX_CONCURRENCY = env_int("MCP_UPSTREAM_MAX_CONCURRENCY", 32, minimum=1, maximum=10000)
MCP_UPSTREAM_MAX_QUEUE = env_int("MCP_UPSTREAM_MAX_QUEUE", 1000, minimum=0, maximum=1000000)
MCP_UPSTREAM_IDLE_SECONDS = env_int("MCP_UPSTREAM_IDLE_SECONDS", 300, minimum=1)
MCP_UPSTREAM_KEEPALIVE_SECONDS = env_int("MCP_UPSTREAM_KEEPALIVE_SECONDS", 60, minimum=1)
MCP_UPSTREAM_BREAKER_THRESHOLD = env_int("MCP_UPSTREAM_BREAKER_THRESHOLD", 5, minimum=1)
MCP_UPSTREAM_BREAKER_COOLDOWN = env_int("MCP_UPSTREAM_BREAKER_COOLDOWN", 30, minimum=1)
# tools/call to streamable-HTTP upstreams as one keep-alive POST instead of the SDK client path.
MCP_UPSTREAM_LEAN_CALLS = env_bool("MCP_UPSTREAM_LEAN_CALLS", True)
MCP_UPSTREAM_MAX_RESPONSE_BYTES = env_int("MCP_UPSTREAM_MAX_RESPONSE_BYTES", 16 * 1024 * 1024, minimum=1024)
MCP_FEDERATION_MAX_HOPS = env_int("MCP_FEDERATION_MAX_HOPS", 4, minimum=1, maximum=32)
# Sessions one worker keeps open to one upstream (one per credential scope, forwarded headers included).
MCP_UPSTREAM_MAX_SESSIONS = env_int("MCP_UPSTREAM_MAX_SESSIONS", 64, minimum=1, maximum=10000)
# Header passthrough (apps/catalog/passthrough.py): callers' headers named on a gateway's
# passthrough_headers (or on this default list when the gateway names none) reach its upstream.
ENABLE_HEADER_PASSTHROUGH = env_bool("ENABLE_HEADER_PASSTHROUGH", False)
PASSTHROUGH_HEADERS_DEFAULT = env_list("PASSTHROUGH_HEADERS_DEFAULT", [])

# --- Catalog and plugins -----------------------------------------------------------

# Older keys still accepted for decryption until `manage.py rotate_encryption_key` re-encrypts.
ENCRYPTION_KEY_FALLBACKS = env_list("ENCRYPTION_KEY_FALLBACKS", [])
GATEWAY_TOOL_NAME_SEPARATOR = env_str("GATEWAY_TOOL_NAME_SEPARATOR", "-")
RESOURCE_MAX_BYTES = env_int("RESOURCE_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
RESOURCE_CACHE_TTL = env_int("RESOURCE_CACHE_TTL", 60, minimum=0)
REST_TOOL_TIMEOUT_MS = env_int("REST_TOOL_TIMEOUT_MS", 20000, minimum=1)
REST_TOOL_MAX_RESPONSE_BYTES = env_int("REST_TOOL_MAX_RESPONSE_BYTES", 10 * 1024 * 1024, minimum=1)
OPENAPI_IMPORT_MAX_TOOLS = env_int("OPENAPI_IMPORT_MAX_TOOLS", 500, minimum=1)
METRICS_FLUSH_SECONDS = env_int("METRICS_FLUSH_SECONDS", 5, minimum=1)
# Per-worker memo of resolved servers, tools and listings (apps/catalog/hotcache.py); 0 turns it off.
CATALOG_MEMO_ENTRIES = env_int("CATALOG_MEMO_ENTRIES", 4096, minimum=0)
METRICS_BATCH_SIZE = env_int("METRICS_BATCH_SIZE", 500, minimum=1)
METRICS_RETENTION_DAYS = env_int("METRICS_RETENTION_DAYS", 7, minimum=1)
METRICS_ROLLUP_RETENTION_DAYS = env_int("METRICS_ROLLUP_RETENTION_DAYS", 365, minimum=1)
CELERY_BEAT_SCHEDULE.update(
    {
        "catalog-flush-metrics": {"task": "catalog.flush_metrics", "schedule": float(METRICS_FLUSH_SECONDS)},
        "catalog-rollup-metrics": {"task": "catalog.rollup_metrics", "schedule": 3600.0},
        "catalog-prune-metrics": {"task": "catalog.prune_metrics", "schedule": 6 * 3600.0},
    }
)
# Federation: upstream health checks and catalog sync (apps/catalog/federation.py).
GATEWAY_HEALTH_INTERVAL = env_int("GATEWAY_HEALTH_INTERVAL", 60, minimum=1)
GATEWAY_HEALTH_TIMEOUT = env_int("GATEWAY_HEALTH_TIMEOUT", 10, minimum=1, maximum=600)
GATEWAY_HEALTH_FAILURE_THRESHOLD = env_int("GATEWAY_HEALTH_FAILURE_THRESHOLD", 3, minimum=1)
GATEWAY_SYNC_INTERVAL = env_int("GATEWAY_SYNC_INTERVAL", 300, minimum=1)
CELERY_BEAT_SCHEDULE.update(
    {
        "catalog-check-gateways": {"task": "catalog.check_gateways", "schedule": float(GATEWAY_HEALTH_INTERVAL)},
        "catalog-sync-gateways": {"task": "catalog.sync_gateways", "schedule": float(GATEWAY_SYNC_INTERVAL)},
    }
)
# Plugins: dotted paths of Plugin classes, loaded once at start-up; per-plugin config by name.
PLUGINS = env_list("PLUGINS", [])
PLUGINS_CONFIG: dict[str, dict] = {}

# --- Static files, i18n ---------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
with contextlib.suppress(OSError):  # the embedded default keeps its database and static files here
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security (production) -------------------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^version$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Observability ----------------------------------------------------------------

LOG_FORMAT = env_choice("LOG_FORMAT", "json" if PRODUCTION else "text", ["json", "text"])
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ["debug", "info", "warning", "error", "critical"]).upper()
OTEL_TRACES_EXPORTER = env_choice("OTEL_TRACES_EXPORTER", "none", ["none", "console", "otlp"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}

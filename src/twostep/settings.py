"""Django settings, read from the environment.

``TWOSTEP_ENV=production`` refuses to start with a missing or development value;
the default (development) keeps generated secrets in ``var/local-secrets.json``
so that a fresh checkout runs without any configuration.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
ENVIRONMENT = os.environ.get("TWOSTEP_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("TWOSTEP_ENV must be 'development' or 'production'.")
PRODUCTION = ENVIRONMENT == "production"
DATA_DIR = Path(os.environ.get("TWOSTEP_DATA_DIR", PROJECT_DIR / "var"))


def _local_secrets() -> dict[str, str]:
    """Development secrets, generated once and kept outside the database."""
    path = DATA_DIR / "local-secrets.json"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        import base64

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        values = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "KEY_RING": "k1:" + base64.urlsafe_b64encode(AESGCM.generate_key(256)).decode(),
        }
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(values))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: the first writer wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    data: dict[str, str] = json.loads(path.read_text())
    return data


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when TWOSTEP_ENV=production.")
    return _local_secrets()[name.removeprefix("TWOSTEP_")]


SECRET_KEY = _required("TWOSTEP_SECRET_KEY")
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("TWOSTEP_SECRET_KEY must be a random value of 50+ characters.")
# Key ring for TOTP keys at rest: "id:base64key,id:base64key"; the first encrypts.
TWOSTEP_KEY_RING = _required("TWOSTEP_KEY_RING")
DEBUG = os.environ.get("TWOSTEP_DEBUG", "") == "1" and not PRODUCTION
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get(
        "TWOSTEP_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost"
    ).split(",")
    if h.strip()
]
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("TWOSTEP_ALLOWED_HOSTS must be set when TWOSTEP_ENV=production.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "twostep.accounts",
    "twostep.twofactor",
    "twostep.administration",
    "twostep.helpdesk",
    "twostep.audit",
]

MIDDLEWARE = [
    "twostep.ops.middleware.RequestLogMiddleware",
    "twostep.ops.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "twostep.accounts.middleware.TwoTabsSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "twostep.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "twostep.accounts.middleware.AbsoluteSessionLifetimeMiddleware",
    "twostep.accounts.middleware.SignedOutMiddleware",
    "twostep.administration.middleware.OfficePolicyMiddleware",
    "twostep.accounts.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "twostep.urls"
WSGI_APPLICATION = "twostep.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "twostep.accounts.context_processors.navigation",
            ],
        },
    },
]

# SQLite by default, set up for several gunicorn workers writing at once: WAL lets
# readers run beside a writer, busy_timeout waits instead of failing, and IMMEDIATE
# transactions take the write lock at BEGIN so that two transactions never deadlock
# upgrading a read lock ("database is locked").
if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("TWOSTEP_SQLITE_PATH", str(DATA_DIR / "twostep.sqlite3")),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA foreign_keys=ON;"
                ),
            },
            "TEST": {"NAME": os.environ.get("TWOSTEP_SQLITE_TEST_PATH") or None},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis, when configured, caches sessions in front of the database (cached_db: a restart of
# Redis loses no session). The guessing limits stay in the database, where they are checked
# in the same transaction as the code (see docs/architecture.md).
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "twostep",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "twostep.accounts.hashers.TwostepArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"

# Sessions: database-backed, HttpOnly, SameSite=Lax; Secure in production.
SESSION_ENGINE = (
    "twostep.accounts.session_backends.cached_db"
    if REDIS_URL
    else "twostep.accounts.session_backends.db"
)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("TWOSTEP_SESSION_IDLE_SECONDS", 30 * 60))
SESSION_SAVE_EVERY_REQUEST = True  # the age above is an inactivity timeout
TWOSTEP_SESSION_MAX_SECONDS = int(os.environ.get("TWOSTEP_SESSION_MAX_SECONDS", 12 * 60 * 60))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# How long a typed password counts as recent for Enable 2FA, the helpdesk and office policy.
TWOSTEP_REAUTH_SECONDS = int(os.environ.get("TWOSTEP_REAUTH_SECONDS", 15 * 60))
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    # __Host- cookies: Secure, Path=/, no Domain; the browser refuses them otherwise.
    SESSION_COOKIE_NAME = "__Host-twostep-session"
    CSRF_COOKIE_NAME = "__Host-twostep-csrf"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = os.environ.get("TWOSTEP_SSL_REDIRECT", "1") == "1"
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en"
# English, Dutch and French: from the browser's Accept-Language, the footer's switcher, or
# the signed-in user's saved choice (User.language). Catalogues in locale/, compiled at install.
LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = PRODUCTION
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Collected files in production; development serves from the source folders.
STATIC_ROOT = DATA_DIR / "staticfiles" if PRODUCTION else None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# Email: the console in development, a file folder when TWOSTEP_EMAIL_FILE_PATH is
# set (used by the end-to-end tests), SMTP in production.
DEFAULT_FROM_EMAIL = os.environ.get("TWOSTEP_FROM_EMAIL", "Twostep <no-reply@twostep.example>")
if os.environ.get("TWOSTEP_EMAIL_FILE_PATH"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["TWOSTEP_EMAIL_FILE_PATH"]
elif PRODUCTION or os.environ.get("EMAIL_HOST"):
    if PRODUCTION and not os.environ.get("EMAIL_HOST"):
        raise ImproperlyConfigured("EMAIL_HOST must be set when TWOSTEP_ENV=production.")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "") == "1"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# Twostep's own settings; read through twostep.conf.get_settings() at call time.
TWOSTEP_ISSUER = os.environ.get("TWOSTEP_ISSUER", "Twostep")
TWOSTEP_HELPDESK_CONTACT = os.environ.get("TWOSTEP_HELPDESK_CONTACT", "helpdesk@twostep.example")
# Client address: REMOTE_ADDR, or the nth-from-right X-Forwarded-For entry when
# behind that many trusted proxies (0 = ignore the header; it is forgeable).
TWOSTEP_TRUSTED_PROXY_COUNT = int(os.environ.get("TWOSTEP_TRUSTED_PROXY_COUNT", "0"))

# One JSON line per request (twostep.request) and per security event (twostep.security),
# to stdout, for a log collector.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "twostep.ops.logs.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        }
    },
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {"twostep": {"handlers": ["stdout"], "level": "INFO", "propagate": False}},
}

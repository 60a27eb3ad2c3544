"""The one settings module is driven by the environment (issue 2, item 1; .env.example).

Each case imports ``healthcommunity.settings`` in a fresh interpreter with an exact
environment, because settings are read once per process.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(settings.BASE_DIR)
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DATABASE_CONN_MAX_AGE",
    "REDIS_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "LOG_LEVEL",
    "PATIENT_SELF_REGISTRATION",
    "DJANGO_SETTINGS_MODULE",
}
PROBE = """
import json
import re
from django.conf import settings
from healthcommunity.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "ENGINE": db["ENGINE"],
    "DB_NAME": str(db["NAME"]),
    "DB_HOST": db.get("HOST", ""),
    "CELERY_TASK_ALWAYS_EAGER": settings.CELERY_TASK_ALWAYS_EAGER,
    "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
    "app_broker_url": app.conf.broker_url,
    "app_always_eager": app.conf.task_always_eager,
    "CACHE_BACKEND": settings.CACHES["default"]["BACKEND"],
    "LANGUAGE_CODE": settings.LANGUAGE_CODE,
    "LANGUAGES": [code for code, _ in settings.LANGUAGES],
    "TIME_ZONE": settings.TIME_ZONE,
    "USE_TZ": settings.USE_TZ,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
}))
"""
PRODUCTION_SECRET = "x7Qp-" * 11  # 55 characters, only ever used inside these subprocesses


def import_settings(**environment: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS_VARIABLES}
    env.update(environment, DJANGO_SETTINGS_MODULE="healthcommunity.settings")
    return subprocess.run(  # noqa: S603 (fixed interpreter and script)
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def read_settings(**environment: str) -> dict[str, object]:
    completed = import_settings(**environment)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_secret_key_is_required_when_debug_is_off() -> None:
    completed = import_settings(DEBUG="0")

    assert completed.returncode == 1
    assert (
        "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off."
        in completed.stderr
    )


def test_an_empty_secret_key_is_refused_too() -> None:
    completed = import_settings(DEBUG="false", SECRET_KEY="")

    assert completed.returncode == 1
    assert "SECRET_KEY must be set when DEBUG is off." in completed.stderr


def test_production_environment_gives_production_settings() -> None:
    values = read_settings(
        DEBUG="0", SECRET_KEY=PRODUCTION_SECRET, ALLOWED_HOSTS="health.example.org,10.0.0.5"
    )

    assert values["DEBUG"] is False
    assert values["SECRET_KEY"] == PRODUCTION_SECRET
    assert values["ALLOWED_HOSTS"] == ["health.example.org", "10.0.0.5"]
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True


def test_no_environment_runs_embedded_with_a_development_key() -> None:
    values = read_settings()

    assert values["DEBUG"] is True
    assert values["SECRET_KEY"] == "insecure-development-key-only-for-debug"
    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DB_NAME"] == str(REPO / "db.sqlite3")


def test_redis_url_unset_runs_tasks_eagerly_in_process() -> None:
    values = read_settings()

    assert values["CELERY_TASK_ALWAYS_EAGER"] is True
    assert values["app_always_eager"] is True
    assert values["CELERY_BROKER_URL"] == "memory://"
    assert values["CELERY_RESULT_BACKEND"] is None
    assert values["CACHE_BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_redis_url_set_sends_tasks_to_that_broker() -> None:
    values = read_settings(REDIS_URL="redis://redis.internal:6379/3")

    assert values["CELERY_TASK_ALWAYS_EAGER"] is False
    assert values["app_always_eager"] is False
    assert values["CELERY_BROKER_URL"] == "redis://redis.internal:6379/3"
    assert values["app_broker_url"] == "redis://redis.internal:6379/3"
    assert values["CELERY_RESULT_BACKEND"] == "redis://redis.internal:6379/3"
    assert values["CACHE_BACKEND"] == "django.core.cache.backends.redis.RedisCache"


@pytest.mark.parametrize(
    ("database_url", "engine", "name", "host"),
    [
        (
            "postgres://hc:secret@db.internal:5432/healthcommunity",
            "django.db.backends.postgresql",
            "healthcommunity",
            "db.internal",
        ),
        (
            "sqlite:////var/lib/hc/hc.sqlite3",
            "django.db.backends.sqlite3",
            "/var/lib/hc/hc.sqlite3",
            "",
        ),
    ],
)
def test_database_url_selects_the_database(
    database_url: str, engine: str, name: str, host: str
) -> None:
    values = read_settings(DATABASE_URL=database_url)

    assert values["ENGINE"] == engine
    assert values["DB_NAME"] == name
    assert values["DB_HOST"] == host


def test_chinese_first_in_shanghai_time() -> None:
    values = read_settings()

    assert values["LANGUAGE_CODE"] == "zh-hans"
    assert values["LANGUAGES"] == ["zh-hans", "en"]
    assert values["TIME_ZONE"] == "Asia/Shanghai"
    assert values["USE_TZ"] is True


def test_env_example_documents_every_variable_the_settings_read() -> None:
    source = (REPO / "healthcommunity" / "settings.py").read_text(encoding="utf-8")
    read = set(
        re.findall(r"""(?:os\.environ\.get|env_bool|env_list)\(\s*["']([A-Z_]+)["']""", source)
    )
    documented = set(
        re.findall(r"^#?\s*([A-Z_]+)=", (REPO / ".env.example").read_text(encoding="utf-8"), re.M)
    )

    assert "SECRET_KEY" in read
    assert sorted(read - documented) == []

"""Setup pieces shared by the benchmark scripts in bench/.

The scripts are run as ``.venv/bin/python bench/<name>.py``, so this directory is on
``sys.path`` and they import this module as ``support``.
"""

from __future__ import annotations

import math
import os
from urllib.parse import urlsplit

# SECRET_KEY default for scripts that run without one in the environment.
BENCH_SECRET_KEY = "bench-only-secret-key-" + "x" * 40


def postgres_url(database: str, host: str, port: str, user: str) -> str:
    return f"postgres://{user}@{host}:{port}/{database}"


def setup_django(
    database_url: str,
    *,
    without_redis: bool = False,
    secret_key: str | None = None,
    debug_off: bool = False,
) -> None:
    """Point Django at ``database_url`` and set it up.

    ``without_redis`` drops REDIS_URL so tasks run in this process; ``secret_key`` is a
    default for SECRET_KEY; ``debug_off`` turns DEBUG off after setup, since DEBUG would record
    every query (the static-files storage and the HTTPS redirect were chosen at import).
    """
    os.environ["DATABASE_URL"] = database_url
    if secret_key is not None:
        os.environ.setdefault("SECRET_KEY", secret_key)
    if without_redis:
        os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthcommunity.settings")
    import django

    django.setup()
    if debug_off:
        from django.conf import settings

        settings.DEBUG = False


def recreate_database(url: str) -> None:
    """Drop and create the PostgreSQL database named in ``url``."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def load_average() -> str:
    """The one-minute load average, two decimals."""
    return f"{os.getloadavg()[0]:.2f}"

"""docker-compose.yml has the production shape of DESIGN.md "Two ways to run, one code path".

Docker does not run on the CI machines, so the file is checked by reading it.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

REPO = Path(settings.BASE_DIR)


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    return compose["services"]


def test_web_worker_and_beat_run_one_image(services: dict[str, Any]) -> None:
    images = {name: services[name]["image"] for name in ["migrate", "web", "worker", "beat"]}
    assert set(images.values()) == {"healthcommunity:latest"}
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "healthcommunity", "worker"]
    beat = services["beat"]["command"]
    assert beat[:4] == ["celery", "-A", "healthcommunity", "beat"]
    assert beat[beat.index("--scheduler") + 1] == (
        "django_celery_beat.schedulers:DatabaseScheduler"
    )


def test_apps_wait_for_the_migration_and_get_postgres_and_redis(
    services: dict[str, Any],
) -> None:
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name in ["web", "worker", "beat"]:
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["env_file"] == ".env"


def test_data_services_persist_and_report_health(services: dict[str, Any]) -> None:
    assert services["db"]["image"] == "postgres:15"
    assert services["db"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert "pg_isready" in services["db"]["healthcheck"]["test"][1]
    assert services["redis"]["image"] == "redis:7"
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert services["redis"]["volumes"] == ["redis-data:/data"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "/admin/login/" in services["web"]["healthcheck"]["test"][-1]

"""The project package: settings, root URLs and the Celery app (wiring only, no models)."""

from healthcommunity.celery import app as celery_app

__all__ = ["celery_app"]

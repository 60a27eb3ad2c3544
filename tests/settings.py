"""Test settings: the project's settings with a fast hasher; tasks eager unless a worker runs.

``DATABASE_URL`` picks the database as in production (SQLite file by default, which Django
turns into an in-memory test database). ``CELERY_WORKER_TESTS=1`` with ``REDIS_URL`` keeps
tasks going to the real broker for the tests marked ``celery_worker``.
"""

import os

from healthcommunity.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Assertions are written against the English msgids, so a translation added later never
# breaks a test. The product's Chinese default (healthcommunity/settings.py) is checked by
# tests/test_settings.py, and the Chinese pages by tests/test_translations.py and the tests that
# ask for zh-hans (the ``chinese_default`` fixture of tests/conftest.py).
LANGUAGE_CODE = "en"

if os.environ.get("CELERY_WORKER_TESTS") != "1":
    CELERY_TASK_ALWAYS_EAGER = True

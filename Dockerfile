# One image for web (gunicorn), worker and beat (Celery); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. The project's code runs from
# /app (pyproject.toml installs its dependencies, not the apps as packages).
COPY pyproject.toml README.md ./
RUN pip install .

COPY --chown=app:app . .

# Static files for WhiteNoise's manifest storage (DEBUG off). The secret exists only for this
# build step; the running containers get theirs from the environment (.env).
RUN DEBUG=0 SECRET_KEY=build-time-only-collectstatic-dummy-secret-not-used-at-run-time \
    python manage.py collectstatic --noinput \
    && chown -R app:app /app/staticfiles

USER app
EXPOSE 8000

CMD ["gunicorn", "healthcommunity.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--error-logfile", "-"]

"""Operations monitoring: a registry of per-institution figures, computed and cached.

A metric is a key, a label and a provider: a plain function that takes a date and returns
``{institution_id: value}`` (values are ``int`` or ``Decimal``). The registry's own metrics
(residents, contracts, enrolments) are registered from ``CloudManagementConfig.ready()``; higher
apps register theirs from their own ``AppConfig.ready()`` (DESIGN.md "Who may import whom"):

    from cloud_management.monitoring import register_metric
    register_metric("payments.claim_lines_today", _("Claim lines today"), claim_lines_on)

Registration is idempotent (``ready()`` may run twice) and checks the provider's shape; what a
provider returns is checked every time it runs. An institution missing from a provider's answer
counts as 0 for a summable metric and as "no figure" for one that is not (a rate, say).

Figures for a day are computed together (:func:`compute_figures`) and kept in Django's cache
(:func:`refresh_figures`, run by ``refresh_monitoring_figures_task``); the dashboards read them with
:func:`figures_for`, which computes live when the cache has nothing for the day.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

FigureValue = int | Decimal
MetricProvider = Callable[[dt.date], Mapping[int, FigureValue]]

METRIC_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
CACHE_KEY_PREFIX = "monitoring:figures:"
DEFAULT_CACHE_SECONDS = 60 * 60


class MetricError(ValueError):
    """A metric that cannot be registered, or a provider that returned the wrong shape."""


@dataclass(frozen=True)
class Metric:
    """One registered figure. ``summable`` figures add up over a district and the city."""

    key: str
    label: str | Promise
    provider: MetricProvider
    summable: bool = True


@dataclass(frozen=True)
class Figures:
    """Every metric's values for one day, and when they were computed."""

    day: dt.date
    computed_at: dt.datetime
    values: Mapping[str, Mapping[int, FigureValue]]

    def value(self, metric: Metric, institution_id: int) -> FigureValue | None:
        """One institution's figure; None when a non-summable metric has no figure for it."""
        found = self.values.get(metric.key, {}).get(institution_id)
        if found is None and metric.summable:
            return 0
        return found

    def total(self, metric: Metric, institution_ids: list[int]) -> FigureValue | None:
        """The sum over institutions, or None for a metric that does not add up."""
        if not metric.summable:
            return None
        by_institution = self.values.get(metric.key, {})
        return sum((by_institution.get(pk, 0) for pk in institution_ids), start=0)


_METRICS: dict[str, Metric] = {}


def _check_provider(key: str, provider: object) -> None:
    if not callable(provider):
        raise MetricError(f"Metric {key!r}: the provider must be callable.")
    try:
        signature = inspect.signature(provider)
    except (TypeError, ValueError) as exc:
        raise MetricError(f"Metric {key!r}: the provider's signature cannot be read.") from exc
    try:
        signature.bind(dt.date(2000, 1, 1))
    except TypeError as exc:
        raise MetricError(
            f"Metric {key!r}: the provider must take exactly one argument, the date."
        ) from exc


def register_metric(
    key: str, label: str | Promise, provider: MetricProvider, *, summable: bool = True
) -> Metric:
    """Register a per-institution figure. Registering the same metric again changes nothing;
    registering a different one under a taken key is an error."""
    if not isinstance(key, str) or not METRIC_KEY_PATTERN.match(key):
        raise MetricError(
            f"Metric key {key!r} must be dotted lower-case words, such as 'payments.claims'."
        )
    if not isinstance(label, str | Promise) or not str(label).strip():
        raise MetricError(f"Metric {key!r}: the label must be a non-empty string.")
    _check_provider(key, provider)
    metric = Metric(key=key, label=label, provider=provider, summable=bool(summable))
    existing = _METRICS.get(key)
    if existing is not None:
        if existing != metric:
            raise MetricError(f"Metric {key!r} is already registered with another provider.")
        return existing
    _METRICS[key] = metric
    return metric


def unregister_metric(key: str) -> None:
    """Remove a metric (tests, and apps that withdraw a figure)."""
    _METRICS.pop(key, None)


@contextmanager
def registered_temporarily(
    key: str, label: str | Promise, provider: MetricProvider, *, summable: bool = True
) -> Iterator[Metric]:
    """Register a metric for the duration of a ``with`` block (tests)."""
    already = key in _METRICS
    metric = register_metric(key, label, provider, summable=summable)
    try:
        yield metric
    finally:
        if not already:
            unregister_metric(key)


def registered_metrics() -> tuple[Metric, ...]:
    """The metrics in registration order: the registry's own first, then the clouds'."""
    return tuple(_METRICS.values())


def _checked_values(metric: Metric, answer: object) -> dict[int, FigureValue]:
    if not isinstance(answer, Mapping):
        raise MetricError(
            f"Metric {metric.key!r}: the provider returned {type(answer).__name__}, "
            "not a mapping of institution id to value."
        )
    values: dict[int, FigureValue] = {}
    for institution_id, value in answer.items():
        if not isinstance(institution_id, int) or isinstance(institution_id, bool):
            raise MetricError(
                f"Metric {metric.key!r}: institution id {institution_id!r} is not an integer."
            )
        if not isinstance(value, int | Decimal) or isinstance(value, bool):
            raise MetricError(
                f"Metric {metric.key!r}: institution {institution_id}: value {value!r} is not "
                "an integer or a Decimal."
            )
        values[institution_id] = value
    return values


def compute_figures(day: dt.date) -> Figures:
    """Run every registered provider for ``day`` (one set-based query or so each)."""
    values = {
        metric.key: _checked_values(metric, metric.provider(day)) for metric in _METRICS.values()
    }
    return Figures(day=day, computed_at=timezone.now(), values=values)


def cache_key(day: dt.date) -> str:
    return f"{CACHE_KEY_PREFIX}{day.isoformat()}"


def _cache_seconds() -> int:
    return int(getattr(settings, "MONITORING_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def store_figures(figures: Figures) -> None:
    """Put ``figures`` in the cache under their day, for web and worker alike."""
    # Plain builtins and Decimals only, so any cache backend (Redis pickles) can hold them.
    payload: dict[str, Any] = {
        "day": figures.day.isoformat(),
        "computed_at": figures.computed_at.isoformat(),
        "values": {key: dict(by_institution) for key, by_institution in figures.values.items()},
    }
    cache.set(cache_key(figures.day), payload, timeout=_cache_seconds())


def cached_figures(day: dt.date) -> Figures | None:
    """The cached figures of ``day``, or None when absent or missing a registered metric."""
    payload = cache.get(cache_key(day))
    if not isinstance(payload, dict):
        return None
    values = payload.get("values")
    if not isinstance(values, dict) or any(key not in values for key in _METRICS):
        return None
    return Figures(
        day=dt.date.fromisoformat(payload["day"]),
        computed_at=dt.datetime.fromisoformat(payload["computed_at"]),
        values=values,
    )


def refresh_figures(day: dt.date | None = None) -> Figures:
    """Compute every figure for ``day`` (today by default) and cache it. Idempotent."""
    figures = compute_figures(day or timezone.localdate())
    store_figures(figures)
    return figures


def figures_for(day: dt.date | None = None) -> Figures:
    """The figures of ``day`` from the cache, computed live (and cached) on a miss."""
    day = day or timezone.localdate()
    return cached_figures(day) or refresh_figures(day)


# --- The registry's own metrics ------------------------------------------------------------


def _residents(day: dt.date) -> Mapping[int, FigureValue]:
    from cloud_management.selectors import residents_by_institution

    return residents_by_institution(day)


def _active_contracts(day: dt.date) -> Mapping[int, FigureValue]:
    from cloud_management.selectors import active_contracts_by_institution

    return active_contracts_by_institution(day)


def _active_enrolments(day: dt.date) -> Mapping[int, FigureValue]:
    from cloud_management.selectors import active_enrolments_by_institution

    return active_enrolments_by_institution(day)


def _active_type_1(day: dt.date) -> Mapping[int, FigureValue]:
    from cloud_management.selectors import active_enrolments_by_institution

    return active_enrolments_by_institution(day, diabetes_type="T1")


def _active_type_2(day: dt.date) -> Mapping[int, FigureValue]:
    from cloud_management.selectors import active_enrolments_by_institution

    return active_enrolments_by_institution(day, diabetes_type="T2")


def _active_other_type(day: dt.date) -> Mapping[int, FigureValue]:
    from cloud_management.selectors import active_enrolments_by_institution

    return active_enrolments_by_institution(day, diabetes_type="other")


def register_registry_metrics() -> None:
    """Register the registry's own figures; called from ``CloudManagementConfig.ready()``.

    The providers import the selectors when they run, so registering touches no model and no
    database (STYLE.md: no DB work in ``ready()``).
    """
    register_metric("registry.residents", _("Residents registered"), _residents)
    register_metric(
        "registry.active_contracts", _("Active family-doctor contracts"), _active_contracts
    )
    register_metric(
        "registry.active_enrolments", _("Active diabetes enrolments"), _active_enrolments
    )
    register_metric(
        "registry.active_enrolments_t1", _("Active enrolments: type 1 diabetes"), _active_type_1
    )
    register_metric(
        "registry.active_enrolments_t2", _("Active enrolments: type 2 diabetes"), _active_type_2
    )
    register_metric(
        "registry.active_enrolments_other",
        _("Active enrolments: other diabetes"),
        _active_other_type,
    )

"""Quality-indicator providers: how payments learns figures that only a higher app computes.

chronic_care knows follow-ups and measurements, which payments may not import (DESIGN.md "Who
may import whom"). It registers a provider in its ``AppConfig.ready()``::

    from payments.registry import register_quality_provider

    register_quality_provider(diabetes_quality_figures)

A provider is a plain function ``provider(year, institution_ids)`` returning
``{institution_id: IndicatorFigures}`` for the diabetes enrolments of those institutions in that
year (CONTRACTS §5). An institution it leaves out has an empty managed population. A final
settlement run calls the provider and copies every figure into its QualityAssessment rows
(STYLE.md 4.6 rule 4).

Registration is idempotent, because ``ready()`` may run twice; one provider at a time.
Tests swap in their own with :func:`registered_quality_provider`.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from payments.formulas import IndicatorFigures

QualityProvider = Callable[[int, Collection[int]], Mapping[int, IndicatorFigures]]


class QualityProviderError(RuntimeError):
    """A registered provider broke its contract (wrong types, unknown institutions)."""


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._name: str | None = None
        self._provider: QualityProvider | None = None

    def register(self, provider: QualityProvider, name: str) -> None:
        with self._lock:
            if self._name is not None and self._name != name:
                raise ImproperlyConfigured(
                    f"Quality provider {name!r} cannot replace {self._name!r}: "
                    "payments takes its quality indicators from one provider."
                )
            self._name, self._provider = name, provider

    def unregister(self, name: str) -> None:
        with self._lock:
            if self._name == name:
                self._name, self._provider = None, None

    def swap(
        self, name: str | None, provider: QualityProvider | None
    ) -> tuple[str | None, QualityProvider | None]:
        with self._lock:
            previous = (self._name, self._provider)
            self._name, self._provider = name, provider
            return previous

    def current(self) -> tuple[str | None, QualityProvider | None]:
        return self._name, self._provider


_quality = _Registry()


def provider_name(provider: QualityProvider) -> str:
    """The dotted path that identifies a provider across repeated registrations."""
    module = getattr(provider, "__module__", None) or type(provider).__module__
    qualname = getattr(provider, "__qualname__", None) or type(provider).__qualname__
    return f"{module}.{qualname}"


def _check_shape(provider: object) -> None:
    if not callable(provider):
        raise ImproperlyConfigured(f"A quality provider must be callable, not {provider!r}.")
    try:
        inspect.signature(provider).bind(2025, [])
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"Quality provider {provider!r} must accept (year, institution_ids): {exc}"
        ) from exc
    except ValueError:
        # Some builtins have no signature to inspect; they are called as they are.
        return


def register_quality_provider(provider: QualityProvider) -> QualityProvider:
    """Register ``provider`` (usable as a decorator); registering it again changes nothing."""
    _check_shape(provider)
    _quality.register(provider, provider_name(provider))
    return provider


def unregister_quality_provider(provider: QualityProvider) -> None:
    """Remove ``provider`` if it is the registered one."""
    _quality.unregister(provider_name(provider))


def get_quality_provider() -> QualityProvider | None:
    return _quality.current()[1]


@contextmanager
def registered_quality_provider(provider: QualityProvider) -> Iterator[QualityProvider]:
    """Use ``provider`` inside the block and restore the previous one after it (for tests)."""
    _check_shape(provider)
    previous = _quality.swap(provider_name(provider), provider)
    try:
        yield provider
    finally:
        _quality.swap(*previous)


def collect_quality_figures(
    year: int, institution_ids: Collection[int]
) -> dict[int, IndicatorFigures]:
    """The registered provider's figures for ``institution_ids`` in ``year``, checked; a missing
    institution gets an empty managed population (CONTRACTS §4: Q empty)."""
    provider = get_quality_provider()
    if provider is None:
        raise QualityProviderError(
            _("No quality-indicator provider is registered; a final settlement needs one.")
        )
    wanted = set(institution_ids)
    provided = provider(year, sorted(wanted))
    if not isinstance(provided, Mapping):
        raise QualityProviderError(
            _("The quality provider %(name)s returned %(type)s, not a mapping.")
            % {"name": provider_name(provider), "type": type(provided).__name__}
        )
    unknown = set(provided) - wanted
    if unknown:
        raise QualityProviderError(
            _("The quality provider %(name)s returned institutions not asked for: %(ids)s.")
            % {"name": provider_name(provider), "ids": sorted(unknown)}
        )
    empty = IndicatorFigures(
        managed_population=0,
        standardized_managed=0,
        glucose_controlled=0,
        hba1c_tested=0,
        baseline_controlled=0,
    )
    result: dict[int, IndicatorFigures] = {}
    for institution_id in sorted(wanted):
        figures = provided.get(institution_id, empty)
        if not isinstance(figures, IndicatorFigures):
            raise QualityProviderError(
                _(
                    "The quality provider %(name)s returned %(type)s for institution %(id)s, "
                    "not IndicatorFigures."
                )
                % {
                    "name": provider_name(provider),
                    "type": type(figures).__name__,
                    "id": institution_id,
                }
            )
        result[institution_id] = figures
    return result

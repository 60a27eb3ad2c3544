"""The quality-provider registry (STYLE.md 4.6 rule 4)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments import registry
from payments.formulas import IndicatorFigures
from payments.registry import (
    QualityProviderError,
    collect_quality_figures,
    get_quality_provider,
    register_quality_provider,
    registered_quality_provider,
    unregister_quality_provider,
)

FIGURES = IndicatorFigures(
    managed_population=4,
    standardized_managed=3,
    glucose_controlled=2,
    hba1c_tested=1,
    baseline_controlled=0,
)


def provider(year, institution_ids):
    return {i: FIGURES for i in institution_ids if i == 1}


def other_provider(year, institution_ids):
    return {}


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch):
    monkeypatch.setattr(registry, "_quality", registry._Registry())


def test_registering_twice_is_idempotent():
    register_quality_provider(provider)
    register_quality_provider(provider)

    assert get_quality_provider() is provider


def test_a_second_provider_is_refused():
    register_quality_provider(provider)

    with pytest.raises(ImproperlyConfigured):
        register_quality_provider(other_provider)
    assert get_quality_provider() is provider


def test_unregister_removes_only_the_registered_provider():
    register_quality_provider(provider)
    unregister_quality_provider(other_provider)
    assert get_quality_provider() is provider

    unregister_quality_provider(provider)
    assert get_quality_provider() is None


@pytest.mark.parametrize(
    "bad",
    [42, lambda year: {}, lambda year, ids, extra: {}],
)
def test_a_provider_of_the_wrong_shape_is_refused(bad):
    with pytest.raises(ImproperlyConfigured):
        register_quality_provider(bad)
    assert get_quality_provider() is None


def test_temporary_registration_restores_the_previous_provider():
    register_quality_provider(provider)

    with registered_quality_provider(other_provider):
        assert get_quality_provider() is other_provider

    assert get_quality_provider() is provider


def test_collect_fills_missing_institutions_with_an_empty_population():
    register_quality_provider(provider)

    figures = collect_quality_figures(2025, [2, 1])

    assert figures[1] == FIGURES
    assert figures[2].managed_population == 0
    assert figures[2].is_empty
    assert list(figures) == [1, 2]


def test_collect_without_provider_fails_clearly():
    with pytest.raises(QualityProviderError):
        collect_quality_figures(2025, [1])


@pytest.mark.parametrize(
    "answer",
    [
        lambda year, ids: [FIGURES],
        lambda year, ids: {99: FIGURES},
        lambda year, ids: {1: {"managed_population": 4}},
    ],
)
def test_collect_refuses_a_provider_breaking_the_contract(answer):
    with registered_quality_provider(answer), pytest.raises(QualityProviderError):
        collect_quality_figures(2025, [1])

"""Chronic care's operations-monitoring figures."""

import datetime as dt
from decimal import Decimal

from chronic_care.monitoring import follow_ups_on, urgent_referrals_in_week
from cloud_management.monitoring import registered_metrics
from tests.factories.chronic_care import FollowUpFactory
from tests.factories.cloud_management import InstitutionFactory, PatientFactory


def test_follow_up_figures_by_institution(db, django_assert_num_queries):
    a, b = InstitutionFactory(code="NK001"), InstitutionFactory(code="HP001")
    day = dt.date(2025, 6, 10)
    FollowUpFactory(patient=PatientFactory(home_institution=a), institution=a, date=day)
    FollowUpFactory(
        patient=PatientFactory(home_institution=a), institution=a, date=day, fbg=Decimal("18.0")
    )
    FollowUpFactory(
        patient=PatientFactory(home_institution=b),
        institution=b,
        date=day - dt.timedelta(days=6),
        systolic=182,
        diastolic=96,
    )
    FollowUpFactory(
        patient=PatientFactory(home_institution=b),
        institution=b,
        date=day - dt.timedelta(days=7),
        fbg=Decimal("3.5"),
    )

    with django_assert_num_queries(1):
        assert follow_ups_on(day) == {a.pk: 2}
    # The window is the seven days 06-04 … 06-10.
    assert urgent_referrals_in_week(day) == {a.pk: 1, b.pk: 1}
    keys = [metric.key for metric in registered_metrics()]
    assert {"chronic_care.follow_ups_today", "chronic_care.urgent_referrals_week"} <= set(keys)

"""Worklists of institution A on Saturday 2025-05-10 (2025 has 365 days), computed by hand.

A follow-up is owed for each full quarter of covered days: owed = floor(4·covered/365).

W1 from 2024-01-01: covered Jan–May 10 = 31+28+31+30+10 = 130, owed floor(1.42) = 1; clinic
   01-15 FBG 6.5 with next date 05-12 → counted 1: not overdue; the next date falls in the
   week (05-10 … 05-16) → due this week. No HbA1c.
W2 from 2025-01-01: covered 130, owed 1, no follow-up → overdue. Lab FBG 05-01 8.2 →
   uncontrolled, taken 9 days ago → recheck due by 05-15. Lab HbA1c 03-01.
W3 from 2025-02-05: covered 24+31+30+10 = 95, owed floor(1.04) = 1; only a phone call 03-01
   (FBG 9.0), which does not count → overdue; uncontrolled, but 70 days ago → no recheck
   entry. No HbA1c.
W4 from 2025-01-01: clinic 02-10 6.0 and 04-20 7.4 → counted 2 ≥ 1; uncontrolled (7.4, 20
   days ago → no recheck entry). No HbA1c.
W5 from 2025-02-12: covered 17+31+30+10 = 88, owed 0; by 05-16 covered 94 → owed 1 → due this
   week. No HbA1c.
W6 ended 2025-04-30 and W7 enrolled at B: on none of A's lists.
"""

import datetime as dt
from decimal import Decimal

import pytest

from chronic_care.models import FollowUp
from chronic_care.worklists import Worklist, owed_follow_ups, worklists_for_institution
from tests.factories.chronic_care import FollowUpFactory, lab_result
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
    district,
)

TODAY = dt.date(2025, 5, 10)
D = Decimal


@pytest.fixture
def ward(db):
    a = InstitutionFactory(code="NK001", district=district("120104"))
    b = InstitutionFactory(code="HP001", district=district("120101"))
    people = {}
    for name, start, end, where in [
        ("W1", dt.date(2024, 1, 1), None, a),
        ("W2", dt.date(2025, 1, 1), None, a),
        ("W3", dt.date(2025, 2, 5), None, a),
        ("W4", dt.date(2025, 1, 1), None, a),
        ("W5", dt.date(2025, 2, 12), None, a),
        ("W6", dt.date(2025, 1, 1), dt.date(2025, 4, 30), a),
        ("W7", dt.date(2025, 1, 1), None, b),
    ]:
        patient = PatientFactory(home_institution=where, name=name)
        DiabetesEnrollmentFactory(
            patient=patient, institution=where, enrolled_on=start, ended_on=end
        )
        people[name] = patient
    FollowUpFactory(
        patient=people["W1"],
        institution=a,
        date=dt.date(2025, 1, 15),
        fbg=D("6.5"),
        next_date=dt.date(2025, 5, 12),
    )
    lab_result(people["W2"], "FBG", dt.date(2025, 5, 1), "8.2")
    lab_result(people["W2"], "HBA1C", dt.date(2025, 3, 1), "7.5")
    FollowUpFactory(
        patient=people["W3"],
        institution=a,
        date=dt.date(2025, 3, 1),
        fbg=D("9.0"),
        mode=FollowUp.Mode.PHONE,
    )
    FollowUpFactory(patient=people["W4"], institution=a, date=dt.date(2025, 2, 10), fbg=D("6.0"))
    FollowUpFactory(patient=people["W4"], institution=a, date=dt.date(2025, 4, 20), fbg=D("7.4"))
    FollowUpFactory(patient=people["W7"], institution=b, date=dt.date(2025, 1, 20), fbg=D("12.0"))
    return {"a": a, "b": b, "people": people}


def names(entries):
    return sorted(entry.patient_name for entry in entries)


def test_each_list_holds_the_residents_computed_by_hand(ward, django_assert_num_queries):
    with django_assert_num_queries(3):
        lists = worklists_for_institution(institution=ward["a"], today=TODAY)

    assert names(lists.of(Worklist.OVERDUE)) == ["W2", "W3"]
    assert names(lists.of(Worklist.DUE_THIS_WEEK)) == ["W1", "W5"]
    assert names(lists.of(Worklist.UNCONTROLLED)) == ["W2", "W3", "W4"]
    assert names(lists.of(Worklist.NO_HBA1C)) == ["W1", "W3", "W4", "W5"]
    [recheck] = lists.of(Worklist.RECHECK)
    assert (recheck.patient_name, recheck.recheck_due, recheck.latest_fbg) == (
        "W2",
        dt.date(2025, 5, 15),
        D("8.2"),
    )
    assert lists.counts() == {
        Worklist.OVERDUE: 2,
        Worklist.DUE_THIS_WEEK: 2,
        Worklist.UNCONTROLLED: 3,
        Worklist.NO_HBA1C: 4,
        Worklist.RECHECK: 1,
    }


def test_entries_carry_the_counts_behind_them(ward):
    lists = worklists_for_institution(institution=ward["a"], today=TODAY)
    by_name = {entry.patient_name: entry for entry in lists.entries}

    assert set(by_name) == {"W1", "W2", "W3", "W4", "W5"}
    w1, w3 = by_name["W1"], by_name["W3"]
    assert (w1.covered_days, w1.owed_follow_ups, w1.counted_follow_ups) == (130, 1, 1)
    assert (w1.last_follow_up_on, w1.next_date) == (dt.date(2025, 1, 15), dt.date(2025, 5, 12))
    assert (w3.covered_days, w3.owed_follow_ups, w3.counted_follow_ups) == (95, 1, 0)
    assert by_name["W5"].covered_days == 88


def test_the_recheck_leaves_the_list_once_a_controlled_reading_follows(ward):
    FollowUpFactory(
        patient=ward["people"]["W2"], institution=ward["a"], date=dt.date(2025, 5, 9), fbg=D("6.8")
    )

    lists = worklists_for_institution(institution=ward["a"], today=TODAY)

    assert lists.of(Worklist.RECHECK) == []
    assert names(lists.of(Worklist.UNCONTROLLED)) == ["W3", "W4"]
    # The 05-09 clinic follow-up counts: W2 is no longer overdue.
    assert names(lists.of(Worklist.OVERDUE)) == ["W3"]


@pytest.mark.parametrize(
    ("covered", "year_days", "owed"),
    [(0, 365, 0), (91, 365, 0), (92, 365, 1), (91, 366, 0), (92, 366, 1), (365, 365, 4)],
)
def test_a_follow_up_is_owed_for_each_full_quarter(covered, year_days, owed):
    assert owed_follow_ups(covered, year_days) == owed


def test_only_the_entries_shown_load_their_enrolment(ward, django_assert_num_queries):
    lists = worklists_for_institution(institution=ward["a"], today=TODAY)
    [w2] = [entry for entry in lists.entries if entry.patient_name == "W2"]
    with pytest.raises(LookupError):
        w2.patient  # noqa: B018 - the details are not loaded yet

    with django_assert_num_queries(1):
        detailed = lists.with_details(lists.of(Worklist.UNCONTROLLED))
        shown = [(entry.patient.name, entry.enrolment.institution_id) for entry in detailed]

    assert shown == [("W2", ward["a"].pk), ("W3", ward["a"].pk), ("W4", ward["a"].pk)]
    assert [entry.latest_fbg for entry in detailed] == [D("8.2"), D("9.0"), D("7.4")]


def test_a_page_of_a_list_carries_its_details(ward, django_assert_num_queries):
    lists = worklists_for_institution(institution=ward["a"], today=TODAY)

    with django_assert_num_queries(1):
        page = lists.page(Worklist.NO_HBA1C, 2, per_page=3)
        shown = [entry.patient.name for entry in page.object_list]

    assert (page.number, page.paginator.count, shown) == (2, 4, ["W5"])

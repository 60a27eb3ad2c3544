"""run_settlement and export_settlement (CONTRACTS §2, §4)."""

import io

import pytest
from django.core.management import CommandError, call_command

from payments.exports import BOM, escape_cell
from payments.models import SettlementRun
from tests.factories.cloud_management import DiabetesEnrollmentFactory, InstitutionFactory
from tests.factories.payments import ClaimLineFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "institution_code,enrolees,member_days,budget,spending,balance,quality_score,"
    "retention_ratio,retained,overspend,fund_payable"
)


def _call(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_run_settlement_prints_progress_and_summary(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)

    output = _call("run_settlement", "--scheme", "DM2024", "--period", "2024")

    run = SettlementRun.objects.get()
    assert run.status == SettlementRun.Status.FINISHED
    lines = output.splitlines()
    assert [line for line in lines if "institutions)" in line] == [
        f"run {run.pk}: 50% (1 of 2 institutions)",
        f"run {run.pk}: 99% (2 of 2 institutions)",
    ]
    # Budgets 2590.00 + 305.00; spending 180.74 + 180.00; payable 2108.15 + 180.00.
    assert "2895.00" in lines[-1]
    assert "360.74" in lines[-1]
    assert "2288.15" in lines[-1]
    assert run.inputs_digest in lines[-1]


def test_run_settlement_exits_1_when_the_run_fails(community, no_quality_provider):
    with pytest.raises(CommandError) as error:
        _call("run_settlement", "--scheme", "DM2024", "--period", "2024")

    assert error.value.returncode == 1
    assert SettlementRun.objects.get().status == SettlementRun.Status.FAILED


@pytest.mark.parametrize(
    ("scheme", "period"), [("NOPE", "2024"), ("DM2024", "2024-13"), ("DM2024", "2023")]
)
def test_run_settlement_refuses_bad_arguments(community, scheme, period):
    with pytest.raises(CommandError):
        _call("run_settlement", "--scheme", scheme, "--period", period)

    assert not SettlementRun.objects.exists()


def test_export_settlement_final(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)
    _call("run_settlement", "--scheme", "DM2024", "--period", "2024")

    output = _call("export_settlement", "--scheme", "DM2024", "--period", "2024")

    assert output.startswith(BOM)
    assert output[len(BOM) :].split("\r\n") == [
        HEADER,
        "HX001,1,61,305.00,180.00,125.00,,0.00,0.00,0.00,180.00",
        "NK001,3,518,2590.00,180.74,2409.26,80.00,0.80,1927.41,0.00,2108.15",
        "",
    ]


def test_export_settlement_interim_to_a_file(community, tmp_path):
    _call("run_settlement", "--scheme", "DM2024", "--period", "2024-11")
    target = tmp_path / "settlement.csv"

    _call("export_settlement", "--scheme", "DM2024", "--period", "2024-11", "--output", target)

    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    # November: A has P1 (30 days) and P3 (30 days): budget 300.00, no spending; C overspends.
    assert data.decode("utf-8-sig").split("\r\n") == [
        HEADER,
        "HX001,1,30,150.00,180.00,-30.00,,,,30.00,150.00",
        "NK001,2,60,300.00,0.00,300.00,,,,0.00,0.00",
        "",
    ]


def test_export_settlement_exits_1_without_a_finished_run(community):
    with pytest.raises(CommandError) as error:
        _call("export_settlement", "--scheme", "DM2024", "--period", "2024")

    assert error.value.returncode == 1


def test_export_escapes_formula_cells(community):
    rogue = InstitutionFactory(code="=HYPERLINK(1)")
    enrolment = DiabetesEnrollmentFactory(institution=rogue, enrolled_on=community_day())
    ClaimLineFactory(patient=enrolment.patient, service_date=community_day(), fund_paid=0)
    _call("run_settlement", "--scheme", "DM2024", "--period", "2024-12")

    output = _call("export_settlement", "--scheme", "DM2024", "--period", "2024-12")

    assert "\r\n'=HYPERLINK(1),1,1," in output


def community_day():
    import datetime as dt

    return dt.date(2024, 12, 31)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("@cmd", "'@cmd"),
        ("-2+3", "'-2+3"),
        ("\tx", "'\tx"),
        ("-30.50", "-30.50"),
        ("-inf", "'-inf"),
        ("NK001", "NK001"),
        ("", ""),
    ],
)
def test_escape_cell(cell, expected):
    assert escape_cell(cell) == expected

"""The demo's insurance side: the two payment schemes, a year of claim lines and settled runs.

Appended to both scales (``small.STEPS``, ``tianjin.STEPS``) by :func:`steps`:

1. :func:`seed_schemes`: the family-doctor per-capita scheme and the diabetes per-disease
   (门特) scheme for the seed year, with CONTRACTS §4's default retention tiers;
2. :func:`ensure_reimbursement_ratios`: the fund's ratios in force for the year (migration
   ``payments.0003`` sets them from 2024 on; an earlier demo year gets the earliest set);
3. a claims step: a year of medical-insurance settlement lines for the scale's residents, split
   between the fund and the resident by those ratios. Deterministic: a resident's lines depend
   only on the resident (their ID, age, insurance, contracts and enrolments) and the year, and
   their claim IDs are derived from the resident ID, so seeding again adds nothing. The
   portable path uses ``bulk_create``; on PostgreSQL an empty ledger is filled with ``COPY``
   (its indexes and constraints rebuilt once afterwards), several times faster;
4. a settle step: a finished run of each scheme for the last full month (at full scale every
   month up to it, as the monthly schedule would have left them, so the dashboards' trend reads
   runs rather than the ledger), and for the year when a quality-indicator provider is
   registered (chronic_care registers it). Without one a final settlement cannot run (CONTRACTS
   §5 needs its figures), so the seed says so and settles the months only.

Spending habits, in short: a person with diabetes under 门特 care refills their medicines
every month (every quarter with a long prescription in the small demo, which itemises less),
sees their doctor each quarter, has HbA1c and other tests, and some have home visits; everybody
has general outpatient care whose frequency rises with age, at their family doctor's
institution mostly, otherwise at a general hospital, the internet hospital or another centre of
their district. Each responsible institution has its own level of spending (±20 %), so some
stay under budget and keep a surplus and some overspend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import time
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from cloud_management.models import (
    DiabetesEnrollment,
    FamilyDoctorContract,
    Institution,
    Patient,
)
from healthcommunity.demo.bulk import batched, indexes_deferred
from healthcommunity.demo.steps import SeedContext, SeedRefused, Step
from payments.formulas import days_in_year
from payments.models import ClaimLine, ReimbursementRatio, Scheme, SettlementLine, SettlementRun
from payments.registry import get_quality_provider
from payments.services.reimbursement import set_reimbursement_ratio
from payments.services.schemes import save_scheme
from payments.services.settlement import run_settlement

# --- the schemes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemeSpec:
    code_prefix: str
    name: str
    kind: str
    annual_rate: Decimal
    categories: tuple[str, ...]
    diagnosis_prefixes: tuple[str, ...] = ()

    def code(self, year: int) -> str:
        return f"{self.code_prefix}-{year}"


# Annual rates per member, chosen beside the demo's spending habits below so that budgets and
# spending are of the same order and institutions fall on both sides of their budget.
FAMILY_DOCTOR = SchemeSpec(
    code_prefix="FD-CAPITA",
    name="家庭医生签约门诊统筹按人头付费",
    kind=Scheme.Kind.PER_CAPITA,
    annual_rate=Decimal("480.00"),
    categories=("outpatient", "exam", "home_service"),
)
DIABETES = SchemeSpec(
    code_prefix="MTS-DM",
    name="糖尿病门特按病种付费",
    kind=Scheme.Kind.PER_DISEASE,
    annual_rate=Decimal("1800.00"),
    categories=("outpatient", "pharmacy", "exam"),
    diagnosis_prefixes=("E10", "E11", "E13", "E14"),
)
SCHEMES = (FAMILY_DOCTOR, DIABETES)


def scheme_codes(year: int) -> list[str]:
    return [spec.code(year) for spec in SCHEMES]


def seed_schemes(ctx: SeedContext) -> None:
    """Both schemes for the year: created with the default tiers, or brought back to the
    demo's rates and categories (an operator's tiers are kept)."""
    created = 0
    for spec in SCHEMES:
        _scheme, is_new = save_scheme(
            code=spec.code(ctx.year),
            name=f"{spec.name}（{ctx.year}）",
            kind=spec.kind,
            year=ctx.year,
            annual_rate=spec.annual_rate,
            categories=spec.categories,
            diagnosis_prefixes=spec.diagnosis_prefixes,
        )
        created += is_new
    ctx.log(
        _("Payment schemes: %(codes)s (%(created)d new).")
        % {"codes": ", ".join(scheme_codes(ctx.year)), "created": created}
    )


def ensure_reimbursement_ratios(ctx: SeedContext) -> None:
    """Make sure every insurance type and category has a ratio in force in the year."""
    ratios = _ratios_in_force(ctx.year)
    missing = [key for key in _ratio_keys() if key not in ratios]
    if not missing:
        ctx.log(_("Reimbursement ratios: in force for %(year)d.") % {"year": ctx.year})
        return
    earliest = ReimbursementRatio.objects.order_by("year").values_list("year", flat=True).first()
    if earliest is None:
        raise SeedRefused(
            _("No reimbursement ratio is set at all: run migrate, which sets the defaults.")
        )
    defaults = {
        (row.insurance_type, row.category): row.fund_ratio
        for row in ReimbursementRatio.objects.filter(year=earliest)
    }
    for insurance_type, category in missing:
        if (insurance_type, category) not in defaults:
            raise SeedRefused(
                _("No reimbursement ratio for %(type)s insurance, category %(category)s.")
                % {"type": insurance_type, "category": category}
            )
        set_reimbursement_ratio(
            year=ctx.year,
            insurance_type=insurance_type,
            category=category,
            fund_ratio=defaults[(insurance_type, category)],
        )
    ctx.log(
        _("Reimbursement ratios: %(count)d set for %(year)d from those of %(earliest)d.")
        % {"count": len(missing), "year": ctx.year, "earliest": earliest}
    )


def _ratio_keys() -> list[tuple[str, str]]:
    return [
        (insurance_type, category)
        for insurance_type in Patient.InsuranceType.values
        for category in ClaimLine.Category.values
    ]


def _ratios_in_force(year: int) -> dict[tuple[str, str], Decimal]:
    """(insurance type, category) → the fund's ratio of the latest year not after ``year``."""
    ratios: dict[tuple[str, str], Decimal] = {}
    for row in ReimbursementRatio.objects.filter(year__lte=year).order_by("year"):
        ratios[(row.insurance_type, row.category)] = row.fund_ratio
    return ratios


# --- who the claims are for -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Membership:
    institution_id: int
    start: int  # ordinal
    end: int  # ordinal; a large number when open
    diagnosis_code: str = ""


@dataclass(slots=True)
class Subject:
    """What the claim generator knows about a resident."""

    patient_id: int
    resident_id: str
    birth_year: int
    insurance_type: str
    home_institution_id: int
    contracts: list[Membership] = field(default_factory=list)
    enrolments: list[Membership] = field(default_factory=list)


_OPEN = dt.date.max.toordinal()
# Below SQLite's default limit on query parameters (999).
_LOOKUP_BATCH = 900


def _ordinal(day: dt.date | None) -> int:
    return _OPEN if day is None else day.toordinal()


def load_subjects(resident_ids: Iterable[str] | None) -> list[Subject]:
    """The residents (all of them for ``None``) with their contracts and enrolments, in
    resident-ID order."""
    patients = Patient.objects.values_list(
        "pk", "resident_id", "birth_date", "insurance_type", "home_institution_id"
    )
    rows: list[tuple[int, str, dt.date, str, int]] = []
    if resident_ids is None:
        rows = list(patients.iterator(chunk_size=20_000))
    else:
        for batch in batched(sorted(set(resident_ids)), _LOOKUP_BATCH):
            rows.extend(patients.filter(resident_id__in=batch))
    rows.sort(key=lambda row: row[1])
    subjects = {
        pk: Subject(pk, resident_id, birth.year, insurance, home)
        for pk, resident_id, birth, insurance, home in rows
    }
    contracts = FamilyDoctorContract.objects.values_list(
        "patient_id", "institution_id", "signed_on", "ended_on"
    )
    enrolments = DiabetesEnrollment.objects.values_list(
        "patient_id", "institution_id", "enrolled_on", "ended_on", "diagnosis_code"
    )
    if resident_ids is None:
        contract_rows: Iterable[tuple] = contracts.iterator(chunk_size=20_000)
        enrolment_rows: Iterable[tuple] = enrolments.iterator(chunk_size=20_000)
    else:
        ids = list(subjects)
        batches = list(batched(ids, _LOOKUP_BATCH))
        contract_rows = [row for b in batches for row in contracts.filter(patient_id__in=b)]
        enrolment_rows = [row for b in batches for row in enrolments.filter(patient_id__in=b)]
    for patient_id, institution_id, start, end in contract_rows:
        subject = subjects.get(patient_id)
        if subject is not None:
            subject.contracts.append(Membership(institution_id, _ordinal(start), _ordinal(end)))
    for patient_id, institution_id, start, end, code in enrolment_rows:
        subject = subjects.get(patient_id)
        if subject is not None:
            subject.enrolments.append(
                Membership(institution_id, _ordinal(start), _ordinal(end), code)
            )
    return list(subjects.values())


@dataclass(frozen=True)
class Places:
    """Where care is given besides a resident's own institution."""

    digital_hospital: int | None
    # district id → general hospitals there; every general hospital for a district with none.
    hospitals_by_district: dict[int, list[int]]
    all_hospitals: list[int]
    # district id → primary-care institutions
    centres_by_district: dict[int, list[int]]
    district_of: dict[int, int]
    # institution id → its members' spending level (0.8-1.2)
    spending_level: dict[int, float]

    @classmethod
    def of(cls, institution_ids: Iterable[int]) -> Places:
        rows = list(
            Institution.objects.filter(pk__in=list(institution_ids))
            .order_by("code")
            .values_list("pk", "code", "kind", "district_id")
        )
        digital_kind = Institution.Kind.DIGITAL_HOSPITAL
        digital = next((pk for pk, _c, kind, _d in rows if kind == digital_kind), None)
        hospitals: dict[int, list[int]] = {}
        centres: dict[int, list[int]] = {}
        for pk, _code, kind, district in rows:
            if kind == Institution.Kind.GENERAL_HOSPITAL:
                hospitals.setdefault(district, []).append(pk)
            elif kind != Institution.Kind.DIGITAL_HOSPITAL:
                centres.setdefault(district, []).append(pk)
        return cls(
            digital_hospital=digital,
            hospitals_by_district=hospitals,
            all_hospitals=[pk for pks in hospitals.values() for pk in pks],
            centres_by_district=centres,
            district_of={pk: district for pk, _c, _k, district in rows},
            spending_level={pk: _spending_level(code) for pk, code, _k, _d in rows},
        )

    def hospital_near(self, institution_id: int, draw: float) -> int | None:
        near = self.hospitals_by_district.get(self.district_of.get(institution_id, -1))
        choices = near or self.all_hospitals
        return choices[int(draw * len(choices))] if choices else None

    def centre_near(self, institution_id: int, draw: float) -> int:
        choices = self.centres_by_district.get(self.district_of.get(institution_id, -1))
        return choices[int(draw * len(choices))] if choices else institution_id


def _spending_level(code: str) -> float:
    """A stable per-institution spending level between 0.80 and 1.20 (from its code)."""
    digest = hashlib.blake2b(code.encode(), digest_size=4).digest()
    return 0.80 + 0.40 * int.from_bytes(digest, "big") / 0xFFFFFFFF


# --- the claim lines ------------------------------------------------------------------------


# A claim line as the generator makes it: (claim_id, patient_id, institution_id, day ordinal,
# category, diagnosis_code, total in fen, fund_paid in fen). Plain tuples: there are millions.
ClaimRow = tuple[str, int, int, int, str, str, int, int]


@dataclass(frozen=True)
class ClaimHabits:
    """How finely care is itemised: 1.0 lists each visit and a monthly refill; below 1 merges
    routine care into fewer, larger lines (long prescriptions), keeping the amounts per year."""

    itemisation: float = 1.0
    refill_months: int = 1


FULL_ITEMISATION = ClaimHabits()
# The small demo: quarterly long prescriptions (长处方, up to 12 weeks) and fewer, larger lines.
LONG_PRESCRIPTIONS = ClaimHabits(itemisation=0.15, refill_months=3)

_OUTPATIENT, _INPATIENT = ClaimLine.Category.OUTPATIENT.value, ClaimLine.Category.INPATIENT.value
_PHARMACY, _EXAM = ClaimLine.Category.PHARMACY.value, ClaimLine.Category.EXAM.value
_HOME = ClaimLine.Category.HOME_SERVICE.value
# General care: (category, weight, lowest and highest total in CNY).
_GENERAL_CATEGORIES = (
    (_OUTPATIENT, 50.0, 15, 110),
    (_PHARMACY, 36.0, 30, 320),
    (_EXAM, 12.0, 30, 260),
    (_HOME, 2.0, 60, 180),
)
# Common primary-care diagnoses (ICD-10), weights for those under 45 and from 45 on.
_GENERAL_DIAGNOSES = (
    ("J06.9", 24.0, 7.0), ("I10", 4.0, 26.0), ("K29.7", 9.0, 7.0), ("M54.5", 7.0, 8.0),
    ("J20.9", 9.0, 6.0), ("E78.5", 2.0, 10.0), ("I25.1", 0.5, 8.0), ("Z00.0", 12.0, 6.0),
    ("R51", 8.0, 3.0), ("N39.0", 6.0, 4.0), ("L30.9", 8.0, 3.0), ("K59.0", 4.0, 5.0),
    ("H10.9", 6.5, 2.0), ("I63.9", 0.0, 5.0),
)  # fmt: skip
# General visits a year by age (from, visits), before itemisation.
_VISITS_BY_AGE = ((0, 7.4), (7, 4.2), (18, 6.3), (45, 13.6), (60, 22.0), (75, 27.0))
# Draws go through lookup tables of this many entries instead of bisect (same result for a
# given draw, much faster at tens of millions of lines).
_TABLE = 1024


def _table(weights: Sequence[float]) -> tuple[int, ...]:
    """Index ``i`` with probability ``weights[i] / sum`` for ``table[int(draw * _TABLE)]``."""
    cumulative = list(accumulate(weights))
    return tuple(
        min(bisect(cumulative, (slot + 0.5) / _TABLE * cumulative[-1]), len(weights) - 1)
        for slot in range(_TABLE)
    )


def _covering(memberships: list[Membership], day: int) -> Membership | None:
    for membership in memberships:
        if membership.start <= day <= membership.end:
            return membership
    return None


class _ClaimGenerator:
    """A year of claim lines, resident by resident; see the module docstring."""

    def __init__(
        self,
        *,
        year: int,
        places: Places,
        ratios: dict[tuple[str, str], Decimal],
        habits: ClaimHabits,
    ) -> None:
        self.year = year
        self.places = places
        self.habits = habits
        self.first = dt.date(year, 1, 1).toordinal()
        self.days = days_in_year(year)
        self.last = self.first + self.days - 1
        self.month_starts = [dt.date(year, month, 1).toordinal() for month in range(1, 13)] + [
            self.last + 1
        ]
        # Fund ratios in ten-thousandths, for exact integer half-up rounding to the fen.
        self.ratio = {key: int(value * 10_000) for key, value in ratios.items()}
        self.categories = _table([row[1] for row in _GENERAL_CATEGORIES])
        self.young_diagnoses = _table([row[1] for row in _GENERAL_DIAGNOSES])
        self.older_diagnoses = _table([row[2] for row in _GENERAL_DIAGNOSES])
        self.prefix = f"YB{year % 100:02d}"

    def lines(self, subject: Subject) -> list[ClaimRow]:
        rng = random.Random(f"{self.year}:{subject.resident_id}")  # noqa: S311 - demo data
        draw = rng.random
        drafts: list[tuple[int, int, str, str, int]] = []  # day, institution, category, dx, fen
        age = self.year - subject.birth_year
        enrolments = [m for m in subject.enrolments if m.start <= self.last and m.end >= self.first]
        if enrolments:
            self._diabetes_care(subject, enrolments, age, draw, drafts)
        self._general_care(subject, age, bool(enrolments), draw, drafts)
        drafts.sort()
        ratios = self.ratio
        insurance = subject.insurance_type
        prefix = f"{self.prefix}{subject.resident_id}"
        patient = subject.patient_id
        return [
            (
                f"{prefix}{number:03d}", patient, institution, day, category, diagnosis, total,
                (total * ratios[(insurance, category)] + 5_000) // 10_000,
            )
            for number, (day, institution, category, diagnosis, total) in enumerate(drafts, 1)
        ]  # fmt: skip

    # --- diabetes under 门特 care ---

    def _diabetes_care(
        self,
        subject: Subject,
        enrolments: list[Membership],
        age: int,
        draw: Callable[[], float],
        drafts: list[tuple[int, int, str, str, int]],
    ) -> None:
        places = self.places
        latest = max(enrolments, key=lambda m: m.start)
        level = places.spending_level.get(latest.institution_id, 1.0)
        adherence = 0.70 + 0.28 * draw()
        dose = (0.75 + 0.5 * draw()) * level
        habits = self.habits
        step = habits.refill_months
        first, days = self.first, self.days

        def add(day: int, category: str, low: float, high: float, *, anywhere: bool) -> None:
            covering = _covering(enrolments, day)
            # Care before an enrolment began or after it ended is rarer, but it happens.
            if covering is None and draw() > 0.15:
                return
            membership = covering or latest
            where = draw()
            institution = membership.institution_id
            if anywhere and where > 0.86:
                other = places.digital_hospital if where < 0.95 else None
                if other is None:
                    other = places.hospital_near(institution, draw())
                institution = other or institution
            total = int((low + (high - low) * draw()) * dose * 100)
            drafts.append(
                (day, institution, category, membership.diagnosis_code or "E11.9", max(total, 1))
            )

        for month in range(0, 12, step):
            if draw() < adherence:
                start, end = self.month_starts[month], self.month_starts[month + step] - 1
                day = start + int(draw() * (end - start + 1))
                add(day, _PHARMACY, 150 * step, 300 * step, anywhere=True)
        for quarter in range(4):
            if draw() < adherence:
                start = self.month_starts[quarter * 3]
                day = start + int(draw() * (self.month_starts[quarter * 3 + 3] - start))
                add(day, _OUTPATIENT, 20, 45, anywhere=False)
        for _visit in range(1 + int(draw() * 3)):
            add(first + int(draw() * days), _EXAM, 55, 85, anywhere=True)  # HbA1c
        if draw() < 0.6 * habits.itemisation + 0.2:
            add(first + int(draw() * days), _EXAM, 60, 180, anywhere=True)  # lipids, kidneys
        if age >= 70:
            for _visit in range(int(draw() * 3)):
                add(first + int(draw() * days), _HOME, 80, 150, anywhere=False)
        if draw() < 0.04:
            # A complication treated in hospital: inpatient care is outside both schemes.
            day = first + int(draw() * days)
            hospital = places.hospital_near(latest.institution_id, draw())
            if hospital is not None:
                total = int((4_000 + 14_000 * draw()) * 100)
                code = latest.diagnosis_code[:3] + ".5" if latest.diagnosis_code else "E11.5"
                drafts.append((day, hospital, _INPATIENT, code, total))

    # --- everybody's general care ---

    def _general_care(
        self,
        subject: Subject,
        age: int,
        enrolled: bool,
        draw: Callable[[], float],
        drafts: list[tuple[int, int, str, str, int]],
    ) -> None:
        places = self.places
        visits = next(v for start, v in reversed(_VISITS_BY_AGE) if age >= start)
        if enrolled:
            visits *= 0.8
        itemisation = self.habits.itemisation
        expected = visits * itemisation * (0.4 + 1.2 * draw())
        count = int(expected) + (1 if draw() < expected % 1 else 0)
        scale = 100 / itemisation
        diagnoses = self.older_diagnoses if age >= 45 else self.young_diagnoses
        categories = self.categories
        contracts = subject.contracts
        home = subject.home_institution_id
        levels = places.spending_level
        digital = places.digital_hospital
        first, days = self.first, self.days
        append = drafts.append
        for _visit in range(count):
            day = first + int(draw() * days)
            category, _weight, low, high = _GENERAL_CATEGORIES[categories[int(draw() * _TABLE)]]
            if category == _HOME and age < 60:
                category, low, high = _OUTPATIENT, 15, 110
            diagnosis = _GENERAL_DIAGNOSES[diagnoses[int(draw() * _TABLE)]][0]
            own = home
            for membership in contracts:
                if membership.start <= day <= membership.end:
                    own = membership.institution_id
                    break
            where = draw()
            institution = own
            if category != _HOME and where > 0.65:
                if where > 0.90:
                    institution = places.centre_near(own, draw())
                elif where > 0.85 and digital is not None:
                    institution = digital
                elif where <= 0.85:
                    institution = places.hospital_near(own, draw()) or own
            total = int((low + (high - low) * draw()) * levels.get(own, 1.0) * scale)
            append((day, institution, category, diagnosis, total if total > 1 else 1))
        if draw() < (0.01 if age < 60 else 0.04):
            hospital = places.hospital_near(home, draw())
            if hospital is not None:
                total = int((3_000 + 22_000 * draw()) * 100)
                code = "I63.9" if age >= 60 else "K35.8"
                append((first + int(draw() * days), hospital, _INPATIENT, code, total))


def generate_claims(
    subjects: Iterable[Subject],
    *,
    year: int,
    places: Places,
    ratios: dict[tuple[str, str], Decimal],
    habits: ClaimHabits = FULL_ITEMISATION,
) -> Iterator[ClaimRow]:
    """The subjects' claim lines for the year, resident by resident, each resident's by date."""
    generator = _ClaimGenerator(year=year, places=places, ratios=ratios, habits=habits)
    for subject in subjects:
        yield from generator.lines(subject)


# --- writing them ---------------------------------------------------------------------------

_INSURANCE = ClaimLine.Source.INSURANCE.value


def _decimal(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def write_claims_with_orm(rows: Sequence[ClaimRow]) -> int:
    """Insert the lines whose claim IDs are new (any database); returns how many were new."""
    before = ClaimLine.objects.count()
    ClaimLine.objects.bulk_create(
        (
            ClaimLine(
                claim_id=claim_id,
                patient_id=patient_id,
                institution_id=institution_id,
                service_date=dt.date.fromordinal(day),
                category=category,
                diagnosis_code=diagnosis_code,
                total_amount=_decimal(total),
                fund_paid=_decimal(fund),
                source=_INSURANCE,
                source_ref=claim_id,
            )
            for claim_id, patient_id, institution_id, day, category, diagnosis_code, total, fund in rows  # noqa: E501
        ),
        batch_size=2_000,
        ignore_conflicts=True,
    )
    return ClaimLine.objects.count() - before


_CLAIM_FIELDS = (
    "claim_id", "patient", "institution", "service_date", "category", "diagnosis_code",
    "total_amount", "fund_paid", "source", "source_ref", "created_at", "updated_at",
)  # fmt: skip


def write_claims_with_copy(rows: Iterable[ClaimRow], *, year: int) -> int:
    """COPY the lines into the ledger (PostgreSQL); their claim IDs must be new."""
    columns = {f.name: str(f.column) for f in ClaimLine._meta.concrete_fields}
    quote = connection.ops.quote_name
    column_list = ", ".join(quote(columns[name]) for name in _CLAIM_FIELDS)
    table = quote(ClaimLine._meta.db_table)
    stamp = timezone.now().isoformat()
    first = dt.date(year, 1, 1).toordinal()
    dates = {first + n: dt.date.fromordinal(first + n).isoformat() for n in range(366)}
    buffer = io.StringIO()
    written = 0
    tail = f"\t{_INSURANCE}\t"
    end = f"\t{stamp}\t{stamp}\n"
    write = buffer.write
    for claim_id, patient_id, institution_id, day, category, diagnosis, total, fund in rows:
        write(
            f"{claim_id}\t{patient_id}\t{institution_id}\t{dates[day]}\t{category}\t"
            f"{diagnosis}\t{total // 100}.{total % 100:02d}\t{fund // 100}.{fund % 100:02d}"
            f"{tail}{claim_id}{end}"
        )
        written += 1
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({column_list}) FROM STDIN", buffer)
    return written


# --- the step -------------------------------------------------------------------------------

CLAIM_CHUNK_RESIDENTS = 20_000


def claims_step(
    *,
    resident_ids: Callable[[SeedContext], Iterable[str]] | None,
    habits: ClaimHabits,
) -> Step:
    """A step writing a year of claim lines for the residents ``resident_ids(ctx)`` names (all
    residents when ``None``)."""

    def seed_claims(ctx: SeedContext) -> None:
        started = time.monotonic()
        subjects = load_subjects(None if resident_ids is None else resident_ids(ctx))
        places = Places.of(ctx.references.institutions.values())
        ratios = _ratios_in_force(ctx.year)
        ctx.log(
            _("Claims: %(count)d residents to bill (loaded in %(seconds).1f s).")
            % {"count": len(subjects), "seconds": time.monotonic() - started}
        )
        rows = generate_claims(subjects, year=ctx.year, places=places, ratios=ratios, habits=habits)
        if ctx.use_copy and not ClaimLine.objects.exists():
            written = _copy_into_empty_ledger(ctx, subjects, places, ratios, habits)
        else:
            written = 0
            for chunk in batched(rows, 50_000):
                written += write_claims_with_orm(chunk)
        ctx.log(
            _("Claims: %(count)d new lines for %(year)d in %(seconds).1f s.")
            % {"count": written, "year": ctx.year, "seconds": time.monotonic() - started}
        )

    seed_claims.__name__ = "seed_claims"
    return seed_claims


def _copy_into_empty_ledger(
    ctx: SeedContext,
    subjects: list[Subject],
    places: Places,
    ratios: dict[tuple[str, str], Decimal],
    habits: ClaimHabits,
) -> int:
    written = 0
    started = time.monotonic()
    with indexes_deferred([ClaimLine]) as deferred:
        for chunk in batched(subjects, CLAIM_CHUNK_RESIDENTS):
            rows = generate_claims(
                chunk, year=ctx.year, places=places, ratios=ratios, habits=habits
            )
            written += write_claims_with_copy(rows, year=ctx.year)
            elapsed = time.monotonic() - started
            ctx.log(
                _("Claims: %(count)d lines written with COPY (%(rate)d lines/s).")
                % {"count": written, "rate": written / elapsed if elapsed else 0}
            )
        with connection.cursor() as cursor:
            # One sort per index over the whole table: give it room (this transaction only).
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        ctx.log(_("Rebuilding %(count)d indexes and constraints.") % {"count": deferred})
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(ClaimLine._meta.db_table)}")
    ctx.log(_("Claim-line indexes rebuilt; planner statistics refreshed."))
    return written


# --- settled runs ---------------------------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


def last_full_month(year: int, today: dt.date) -> str | None:
    """The period of the last month of ``year`` that has ended by ``today``, if any."""
    if year < today.year:
        return f"{year}-12"
    if year == today.year and today.month > 1:
        return f"{year}-{today.month - 1:02d}"
    return None


def months_to_settle(year: int, today: dt.date, *, history: bool) -> list[str]:
    """The last full month of ``year``; with ``history``, every month from January to it."""
    last = last_full_month(year, today)
    if last is None:
        return []
    if not history:
        return [last]
    return [f"{year}-{month:02d}" for month in range(1, int(last[5:]) + 1)]


def settle_step(*, history: bool) -> Step:
    """A step settling each scheme for the last full month (every month up to it with
    ``history``, as the monthly schedule would have) and, with a quality provider, the year."""

    def settle_demo_runs(ctx: SeedContext) -> None:
        _settle(ctx, months_to_settle(ctx.year, _today(), history=history))

    return settle_demo_runs


def _settle(ctx: SeedContext, months: list[str]) -> None:
    periods = list(months)
    if get_quality_provider() is not None:
        periods.append(str(ctx.year))
    else:
        ctx.log(
            _(
                "Settlement of the year %(year)d not run: a final settlement needs the quality "
                "indicators, and no quality-indicator provider is registered."
            )
            % {"year": ctx.year}
        )
    for code in scheme_codes(ctx.year):
        scheme = Scheme.objects.get(code=code)
        for period in periods:
            finished = SettlementRun.objects.filter(
                scheme=scheme, period=period, status=SettlementRun.Status.FINISHED
            )
            if finished.exists():
                ctx.log(
                    _("Settlement %(code)s %(period)s: already settled.")
                    % {"code": code, "period": period}
                )
                continue
            started = time.monotonic()
            run = run_settlement(scheme=scheme, period=period)
            if run.status != SettlementRun.Status.FINISHED:
                raise SeedRefused(
                    _("Settlement %(code)s %(period)s failed: %(error)s")
                    % {"code": code, "period": period, "error": run.error}
                )
            lines = SettlementLine.objects.filter(run=run)
            payable = sum((line.fund_payable for line in lines), Decimal("0.00"))
            ctx.log(
                _(
                    "Settlement %(code)s %(period)s: %(lines)d institutions, fund payable "
                    "%(payable)s CNY (%(seconds).1f s)."
                )
                % {
                    "code": code,
                    "period": period,
                    "lines": lines.count(),
                    "payable": payable,
                    "seconds": time.monotonic() - started,
                }
            )


def steps(
    *,
    resident_ids: Callable[[SeedContext], Iterable[str]] | None = None,
    habits: ClaimHabits = FULL_ITEMISATION,
    history: bool = False,
) -> list[Step]:
    """The payment steps to append to a scale: schemes, ratios, claims, settled runs."""
    return [
        seed_schemes,
        ensure_reimbursement_ratios,
        claims_step(resident_ids=resident_ids, habits=habits),
        settle_step(history=history),
    ]

"""The demo population as plain rows: residents with their family-doctor contracts and diabetes
enrolments. Pure and deterministic (a fixed seed), with no database access, so the same rows
feed the portable ORM writer and the PostgreSQL COPY writer (``healthcommunity.demo.bulk``).

Every row satisfies the registry's rules: resident IDs are valid GB 11643 numbers whose birth
date and sex agree with the row, resident IDs are unique, contracts and enrolments start after
birth and end after they start, and a resident's enrolments never share a day (a transfer ends
one enrolment before the next begins).
"""

import datetime as dt
import random
from bisect import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate
from typing import TypeVar

from cloud_management.models import DiabetesEnrollment, Institution, Patient
from healthcommunity.demo import names
from healthcommunity.demo.catalogue import InstitutionSpec, district_names
from healthcommunity.demo.places import COMPOUNDS, PLACES_BY_DISTRICT, VILLAGES

T = TypeVar("T")

# Plain strings (not enum members), so every writer formats them the same way.
_MALE = Patient.Sex.MALE.value
_FEMALE = Patient.Sex.FEMALE.value
_EMPLOYEE = Patient.InsuranceType.EMPLOYEE.value
_RESIDENT = Patient.InsuranceType.RESIDENT.value
_T1 = DiabetesEnrollment.DiabetesType.TYPE_1.value
_T2 = DiabetesEnrollment.DiabetesType.TYPE_2.value
_OTHER = DiabetesEnrollment.DiabetesType.OTHER.value

# GB 11643 check character: weights of the 17 digits, and the character for sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"
# A resident ID's three-digit order code: block 0 (000-499) for the full-scale population,
# block 1 (500-999) for the small demo, so the two never produce the same number.
_ORDER_CODES_PER_BLOCK = 500
# Phone and insurance numbers come from a bijection of the resident's global index, so they
# are unique; the small demo's indices start here.
_INDEX_BLOCK = 50_000_000
_PHONE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "180", "181", "182", "183", "185", "186", "187", "188", "189",
)  # fmt: skip

# Five-year age bands from 0-4: the city's pyramid, and that of people with diabetes (from 30).
_POPULATION_AGE_WEIGHTS = (
    3.5, 4.0, 4.0, 3.5, 4.5, 6.5, 8.5, 8.5, 7.5, 7.5, 8.0, 8.5, 7.0, 6.5, 4.5, 3.0, 2.0, 1.2, 0.5,
)  # fmt: skip
_DIABETES_FIRST_BAND = 6
_DIABETES_AGE_WEIGHTS = (0.5, 1.0, 2.0, 4.0, 7.0, 11.0, 15.0, 17.0, 16.0, 12.0, 8.0, 4.0, 2.0)

_T2_CODES = (
    ("E11.9", 50.0), ("E11.2", 9.0), ("E11.3", 8.0), ("E11.4", 9.0), ("E11.5", 7.0),
    ("E11.6", 6.0), ("E11.7", 6.0), ("E11.8", 5.0),
)  # fmt: skip
_T1_CODES = (("E10.9", 70.0), ("E10.2", 15.0), ("E10.3", 15.0))
_OTHER_CODES = (("E13.9", 40.0), ("E14.9", 60.0))

TRANSFER_REASON = "转出：迁居后转至新住址所属机构管理"
END_REASONS = ("迁出本市", "本人申请退出", "转诊至上级医院长期住院", "死亡")

# Share of enrolments that have ended (other than by a transfer), and of contracts.
_ENDED_ENROLMENT_SHARE = 0.08
_ENDED_CONTRACT_SHARE = 0.06
_RENEWED_CONTRACT_SHARE = 0.05
# People with diabetes are a priority group for family-doctor signing.
_CONTRACT_SHARE_IF_ENROLLED = 0.92


@dataclass(frozen=True, slots=True)
class ContractRow:
    institution: str
    signed_on: dt.date
    ended_on: dt.date | None


@dataclass(frozen=True, slots=True)
class EnrolmentRow:
    institution: str
    # Chooses the responsible doctor and health manager among the institution's (by modulo).
    doctor_pick: int
    manager_pick: int
    diabetes_type: str
    diagnosis_code: str
    enrolled_on: dt.date
    ended_on: dt.date | None
    end_reason: str
    baseline_fbg: Decimal | None
    baseline_hba1c: Decimal | None


@dataclass(frozen=True, slots=True)
class ResidentRow:
    resident_id: str
    name: str
    sex: str
    birth_date: dt.date
    phone: str
    address: str
    district_code: str
    home_institution: str
    insurance_type: str
    insurance_number: str
    contracts: tuple[ContractRow, ...]
    enrolments: tuple[EnrolmentRow, ...]


@dataclass(frozen=True)
class PopulationPlan:
    """What to generate. ``enrolments`` counts rows (a transfer is two), ``transfers`` the
    residents whose enrolment moved from one institution to another."""

    institutions: tuple[InstitutionSpec, ...]
    residents: int
    enrolments: int
    transfers: int
    contract_share: float
    year: int
    seed: int
    # 0 for the full-scale population, 1 for the small demo (see _ORDER_CODES_PER_BLOCK).
    id_block: int
    # Resident 0 lives here, has a family doctor and an active type 2 enrolment: the demo patient.
    featured_institution: str | None = None

    def check(self) -> None:
        enrolled = self.enrolments - self.transfers
        if not 0 <= self.transfers <= enrolled - (1 if self.featured_institution else 0):
            raise ValueError("transfers must be between 0 and the number of enrolled residents.")
        if not 0 <= enrolled <= self.residents:
            raise ValueError("enrolments minus transfers cannot exceed the residents.")
        if self.featured_institution and self.residents < 1:
            raise ValueError("A featured institution needs at least one resident.")
        if not any(spec.is_primary_care for spec in self.institutions):
            raise ValueError("Residents need at least one primary-care institution.")


def _weighted_digit_sum(digits: str, first_position: int) -> int:
    return sum(
        int(digit) * _WEIGHTS[first_position + offset] for offset, digit in enumerate(digits)
    )


def check_digit(first_17: str) -> str:
    """The GB 11643 check character of a 17-digit body."""
    if len(first_17) != 17 or not first_17.isdigit():
        raise ValueError("A resident ID body is 17 digits.")
    return _CHECK_CHARACTERS[_weighted_digit_sum(first_17, 0) % 11]


def resident_id(division_code: str, birth_date: dt.date, order_code: int, sex: str) -> str:
    """A valid resident ID. The order code's last digit is odd for men (GB 11643 §4.3); an order
    code of the wrong parity is an error rather than silently another person's sex."""
    if order_code % 2 != (1 if sex == _MALE else 0):
        raise ValueError("The order code's parity must agree with the sex.")
    body = f"{division_code}{birth_date:%Y%m%d}{order_code:03d}"
    return body + check_digit(body)


class _ResidentIds:
    """:func:`resident_id` for many rows: the weighted sums of the division, date and order
    parts are computed once each and added, instead of 17 multiplications per row."""

    def __init__(self) -> None:
        self.divisions: dict[str, int] = {}
        self.dates: dict[int, tuple[str, int]] = {}
        self.orders = [
            (f"{order:03d}", _weighted_digit_sum(f"{order:03d}", 14)) for order in range(1000)
        ]

    def make(self, division_code: str, birth_ordinal: int, order_code: int) -> str:
        division_sum = self.divisions.get(division_code)
        if division_sum is None:
            division_sum = self.divisions[division_code] = _weighted_digit_sum(division_code, 0)
        date_part = self.dates.get(birth_ordinal)
        if date_part is None:
            day = dt.date.fromordinal(birth_ordinal)
            text = f"{day.year:04d}{day.month:02d}{day.day:02d}"
            date_part = self.dates[birth_ordinal] = (text, _weighted_digit_sum(text, 6))
        order_text, order_sum = self.orders[order_code]
        check = _CHECK_CHARACTERS[(division_sum + date_part[1] + order_sum) % 11]
        return f"{division_code}{date_part[0]}{order_text}{check}"


def _scramble(value: int, half: int) -> int:
    """A bijection of ``range(half * half)`` that hides the order of consecutive values (a
    four-round Feistel network over two base-``half`` digits)."""
    left, right = divmod(value, half)
    for key in (40503, 24281, 9341, 31337):
        left, right = right, (left + (right * right * 7 + right * key + key) // 3) % half
    return left * half + right


def phone_number(index: int) -> str:
    """A mobile number (13x/15x/18x), unique per index below 10**8."""
    digits = _scramble(index, 10_000)
    return f"{_PHONE_PREFIXES[(index * 31 + digits) % len(_PHONE_PREFIXES)]}{digits:08d}"


def insurance_number(index: int, insurance_type: str) -> str:
    """A medical-insurance number, unique per index below 10**10."""
    letter = "E" if insurance_type == _EMPLOYEE else "R"
    return f"TJ{letter}{_scramble(index, 100_000):010d}"


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    return tuple(accumulate(weights))


@dataclass(frozen=True)
class _Home:
    """What the generator needs about a primary-care institution, looked up once."""

    code: str
    district_code: str
    district_name: str
    # Built-up areas get street addresses; rural ones village addresses in ``town``.
    town: str
    roads: tuple[str, ...]
    villages: tuple[str, ...]
    # The centre responsible for its residents' diabetes enrolments.
    responsible: str


class _Generator:
    """One pass over the plan; state that spans residents (ID counters, quotas) lives here.

    Draws use ``random()`` with index arithmetic rather than ``randint``/``choice``: the
    generator makes tens of millions of draws at full scale, and these are several times
    faster (and just as deterministic).
    """

    def __init__(self, plan: PopulationPlan) -> None:
        plan.check()
        self.plan = plan
        self.rng = random.Random(plan.seed)  # noqa: S311 - demo data, reproducible on purpose
        self.random = self.rng.random
        self.ids = _ResidentIds()
        self.order_counters: dict[tuple[str, int, str], list[int]] = {}
        year = plan.year
        self.start = dt.date(year, 1, 1).toordinal()
        # Nothing happens after the first quarter of the year: the demo is "as of" then.
        self.as_of = dt.date(year, 3, 31).toordinal()
        self.day = {
            name: dt.date(year + years, month, day).toordinal()
            for name, (years, month, day) in {
                "enrol_from": (-6, 1, 1),
                "contract_history_from": (-4, 1, 1),
                "contract_from": (-3, 1, 1),
                "featured_from": (-3, 1, 1),
                "transfer_start_until": (-2, 1, 1),
                "renewal_start_until": (-2, 12, 31),
                "ended_start_until": (-1, 6, 30),
                "transfer_end_until": (-1, 12, 1),
                "renewal_end_until": (-1, 12, 31),
                "featured_until": (-1, 12, 31),
            }.items()
        }

        specs = {spec.code: spec for spec in plan.institutions}
        homes = [spec for spec in plan.institutions if spec.is_primary_care]
        centres = [spec for spec in plan.institutions if spec.kind in _CENTRE_KINDS]
        self.centres_by_district: dict[str, list[str]] = {}
        for spec in centres:
            self.centres_by_district.setdefault(spec.district_code, []).append(spec.code)
        self.all_centres = [spec.code for spec in centres] or [spec.code for spec in homes]
        self.district_of = {spec.code: spec.district_code for spec in plan.institutions}

        per_district = Counter(spec.district_code for spec in homes)
        district_name = district_names()
        self.homes: dict[str, _Home] = {}
        for spec in homes:
            places = PLACES_BY_DISTRICT[spec.district_code]
            self.homes[spec.code] = _Home(
                code=spec.code,
                district_code=spec.district_code,
                district_name=district_name[spec.district_code],
                town=spec.town,
                roads=places.roads,
                villages=self._villages_of(spec, district_name[spec.district_code]),
                responsible=self._responsible_for(spec, specs),
            )
        self.home_codes = tuple(self.homes)
        self.home_weights = _cumulative(
            [
                PLACES_BY_DISTRICT[spec.district_code].population
                / per_district[spec.district_code]
                * (0.3 if spec.kind == Institution.Kind.VILLAGE_CLINIC else 1.0)
                for spec in homes
            ]
        )
        self.population_bands = _cumulative(_POPULATION_AGE_WEIGHTS)
        self.diabetes_bands = _cumulative(_DIABETES_AGE_WEIGHTS)
        self.diagnoses = {
            kind: ([code for code, _ in codes], _cumulative([weight for _, weight in codes]))
            for kind, codes in ((_T1, _T1_CODES), (_T2, _T2_CODES), (_OTHER, _OTHER_CODES))
        }

    # --- where people belong -------------------------------------------------------------

    def _responsible_for(self, home: InstitutionSpec, specs: dict[str, InstitutionSpec]) -> str:
        """The centre responsible for a resident's diabetes: their own, or for a village clinic
        the township centre of its town (else the district's first centre)."""
        if home.kind != Institution.Kind.VILLAGE_CLINIC:
            return home.code
        district_centres = self.centres_by_district.get(home.district_code, [])
        for code in district_centres:
            if specs[code].town == home.town:
                return code
        return district_centres[0] if district_centres else home.code

    @staticmethod
    def _villages_of(spec: InstitutionSpec, district_name: str) -> tuple[str, ...]:
        if not spec.town:
            return ()
        if spec.kind == Institution.Kind.VILLAGE_CLINIC:
            return (spec.name.removeprefix(district_name + spec.town).removesuffix("卫生室"),)
        # Each town draws from its own stretch of the village list.
        offset = sum(map(ord, spec.town)) % len(VILLAGES)
        return tuple(VILLAGES[(offset + step) % len(VILLAGES)] for step in range(9))

    def _transfer_origin(self, destination: str) -> str:
        """Another centre, in the same district where there is one."""
        district = self.district_of[destination]
        candidates = [c for c in self.centres_by_district.get(district, []) if c != destination]
        if not candidates:
            candidates = [code for code in self.all_centres if code != destination]
        return self._choice(candidates) if candidates else destination

    # --- small draws ---------------------------------------------------------------------

    def _int(self, low: int, high: int) -> int:
        """Uniform in [low, high]; ``low`` when the range is empty."""
        if high <= low:
            return low
        return low + int(self.random() * (high - low + 1))

    def _choice(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def _weighted(self, cumulative: tuple[float, ...]) -> int:
        return min(bisect(cumulative, self.random() * cumulative[-1]), len(cumulative) - 1)

    def _birth_ordinal(self, *, enrolled: bool, featured: bool) -> int:
        if featured:
            # The demo patient is in their sixties, the typical age of the home-care story.
            age_years = 60 + self.random() * 8
        elif enrolled:
            band = _DIABETES_FIRST_BAND + self._weighted(self.diabetes_bands)
            age_years = (band + self.random()) * 5
        else:
            age_years = (self._weighted(self.population_bands) + self.random()) * 5
        return self.start - 1 - int(age_years * 365.2425)

    def _order_code(self, district: str, birth: int, sex: str) -> int:
        per_sex = _ORDER_CODES_PER_BLOCK // 2
        key = (district, birth, sex)
        counter = self.order_counters.get(key)
        if counter is None:
            counter = self.order_counters[key] = [int(self.random() * per_sex), 0]
        if counter[1] >= per_sex:
            raise ValueError("Too many residents share a district, birth date and sex.")
        sequence = (counter[0] + counter[1]) % per_sex
        counter[1] += 1
        parity = 1 if sex == _MALE else 0
        return self.plan.id_block * _ORDER_CODES_PER_BLOCK + sequence * 2 + parity

    def _address(self, home: _Home) -> str:
        number = self._int
        if home.town:
            village = self._choice(home.villages)
            return f"天津市{home.district_name}{home.town}{village}{number(1, 300)}号"
        road = self._choice(home.roads)
        compound = self._choice(COMPOUNDS)
        return (
            f"天津市{home.district_name}{road}{number(1, 400)}号{compound}{number(1, 30)}号楼"
            f"{number(1, 6)}门{number(1, 18)}{number(1, 4):02d}"
        )

    def _insurance_type(self, *, age: int, rural: bool) -> str:
        if age < 18:
            return _RESIDENT
        share = (0.35 if rural else 0.75) if age < 60 else (0.2 if rural else 0.6)
        return _EMPLOYEE if self.random() < share else _RESIDENT

    def _diagnosis(self) -> tuple[str, str]:
        draw = self.random()
        kind = _T2 if draw < 0.94 else _T1 if draw < 0.97 else _OTHER
        codes, cumulative = self.diagnoses[kind]
        return kind, codes[self._weighted(cumulative)]

    def _baselines(self, diabetes_type: str) -> tuple[Decimal | None, Decimal | None]:
        gauss = self.rng.gauss
        if diabetes_type == _T1:
            fbg = min(max(gauss(10.5, 3.0), 5.6), 25.0)
        else:
            fbg = min(max(gauss(8.6, 2.1), 5.6), 22.0)
        hba1c = min(max(gauss(0.55 * fbg + 3.1, 0.6), 5.6), 14.5)
        return (
            None if self.random() < 0.05 else Decimal(f"{fbg:.1f}"),
            None if self.random() < 0.05 else Decimal(f"{hba1c:.1f}"),
        )

    # --- histories -----------------------------------------------------------------------

    def _contracts(self, institution: str, birth: int) -> tuple[ContractRow, ...]:
        """One active contract; or one that ended; or one that ended and was renewed."""
        day, born = self.day, birth + 1
        draw = self.random()
        if draw < _ENDED_CONTRACT_SHARE:
            signed = self._int(max(born, day["contract_history_from"]), day["ended_start_until"])
            if signed <= day["ended_start_until"]:
                ended = self._int(signed + 180, self.as_of)
                return (ContractRow(institution, _date(signed), _date(ended)),)
        elif draw < _ENDED_CONTRACT_SHARE + _RENEWED_CONTRACT_SHARE:
            first = self._int(max(born, day["contract_history_from"]), day["renewal_start_until"])
            if first <= day["renewal_start_until"]:
                ended = self._int(first + 365, day["renewal_end_until"])
                renewed = ended + self._int(1, 15)
                return (
                    ContractRow(institution, _date(first), _date(ended)),
                    ContractRow(institution, _date(renewed), None),
                )
        signed = self._int(max(born, day["contract_from"]), self.as_of)
        return (ContractRow(institution, _date(signed), None),)

    def _enrolment(
        self,
        institution: str,
        *,
        enrolled: int,
        ended: int | None,
        reason: str = "",
        diagnosis: tuple[str, str] | None = None,
    ) -> EnrolmentRow:
        kind, code = diagnosis or self._diagnosis()
        fbg, hba1c = self._baselines(kind)
        return EnrolmentRow(
            institution=institution,
            doctor_pick=int(self.random() * 65536),
            manager_pick=int(self.random() * 65536),
            diabetes_type=kind,
            diagnosis_code=code,
            enrolled_on=_date(enrolled),
            ended_on=None if ended is None else _date(ended),
            end_reason=reason,
            baseline_fbg=fbg,
            baseline_hba1c=hba1c,
        )

    def _enrolments(self, responsible: str, *, transfer: bool) -> tuple[EnrolmentRow, ...]:
        """One active enrolment; or one that ended; or, for a transfer, one that ended at
        another centre followed (a day or more later) by one at the responsible centre."""
        day = self.day
        if transfer:
            first = self._int(day["enrol_from"], day["transfer_start_until"])
            ended = self._int(first + 180, day["transfer_end_until"])
            restart = ended + self._int(1, 30)
            before = self._enrolment(
                self._transfer_origin(responsible),
                enrolled=first,
                ended=ended,
                reason=TRANSFER_REASON,
            )
            return before, self._enrolment(responsible, enrolled=restart, ended=None)
        if self.random() < _ENDED_ENROLMENT_SHARE:
            start = self._int(day["enrol_from"], day["ended_start_until"])
            ended = self._int(start + 90, self.as_of)
            reason = self._choice(END_REASONS)
            return (self._enrolment(responsible, enrolled=start, ended=ended, reason=reason),)
        start = self._int(day["enrol_from"], self.as_of)
        return (self._enrolment(responsible, enrolled=start, ended=None),)

    # --- residents -----------------------------------------------------------------------

    def residents(self) -> Iterator[ResidentRow]:
        plan, random_ = self.plan, self.random
        enrolled_left = plan.enrolments - plan.transfers
        transfers_left = plan.transfers
        # Transfers are drawn among the enrolled residents other than the featured one.
        transfer_pool = enrolled_left - (1 if plan.featured_institution else 0)
        enrolled_share = enrolled_left / plan.residents if plan.residents else 0.0
        # Chosen so that the overall share of residents with a contract is the plan's.
        other_contract_share = min(
            max(
                (plan.contract_share - enrolled_share * _CONTRACT_SHARE_IF_ENROLLED)
                / max(1.0 - enrolled_share, 1e-9),
                0.0,
            ),
            1.0,
        )
        for index in range(plan.residents):
            featured = index == 0 and plan.featured_institution is not None
            # Selection sampling (Knuth 3.4.2 S): exactly the planned number, in one pass.
            enrolled = featured or random_() * (plan.residents - index) < enrolled_left
            transfer = False
            if enrolled:
                enrolled_left -= 1
                if not featured:
                    transfer = random_() * transfer_pool < transfers_left
                    transfer_pool -= 1
                    transfers_left -= transfer
            if featured and plan.featured_institution is not None:
                home = self.homes[plan.featured_institution]
            else:
                home = self.homes[self.home_codes[self._weighted(self.home_weights)]]
            share = _CONTRACT_SHARE_IF_ENROLLED if enrolled else other_contract_share
            yield self._resident(
                index, home, enrolled=enrolled, transfer=transfer, featured=featured,
                contracted=featured or random_() < share,
            )  # fmt: skip

    def _resident(
        self,
        index: int,
        home: _Home,
        *,
        enrolled: bool,
        transfer: bool,
        featured: bool,
        contracted: bool,
    ) -> ResidentRow:
        plan = self.plan
        district = home.district_code
        birth = self._birth_ordinal(enrolled=enrolled, featured=featured)
        birth_date = _date(birth)
        sex = _MALE if self.random() < (0.52 if enrolled else 0.5) else _FEMALE
        global_index = plan.id_block * _INDEX_BLOCK + index
        insurance_type = self._insurance_type(
            age=plan.year - birth_date.year, rural=bool(home.town)
        )
        contracts = self._contracts(home.code, birth) if contracted else ()
        enrolments: tuple[EnrolmentRow, ...] = ()
        if featured:
            start = self._int(self.day["featured_from"], self.day["featured_until"])
            enrolments = (
                self._enrolment(home.code, enrolled=start, ended=None, diagnosis=(_T2, "E11.9")),
            )
            contracts = (ContractRow(home.code, _date(start), None),)
        elif enrolled:
            enrolments = self._enrolments(home.responsible, transfer=transfer)
        order = self._order_code(district, birth, sex)
        return ResidentRow(
            resident_id=self.ids.make(district, birth, order),
            name=names.person_name(self.rng, sex=sex, birth_year=birth_date.year),
            sex=sex,
            birth_date=birth_date,
            phone=phone_number(global_index),
            address=self._address(home),
            district_code=district,
            home_institution=home.code,
            insurance_type=insurance_type,
            insurance_number=insurance_number(global_index, insurance_type),
            contracts=contracts,
            enrolments=enrolments,
        )


_CENTRE_KINDS = frozenset({Institution.Kind.COMMUNITY_CENTRE, Institution.Kind.TOWNSHIP_CENTRE})


def _date(ordinal: int) -> dt.date:
    return dt.date.fromordinal(ordinal)


def generate_residents(plan: PopulationPlan) -> Iterator[ResidentRow]:
    """The plan's residents in order (resident ``i`` is the i-th row), with their histories."""
    return _Generator(plan).residents()

"""The demo's institutions: the full Tianjin catalogue (266) and the small demo's subset (~30).

Codes are ``<division code><kind letter><number>``: ``120104C01`` is 南开区's first community
centre, ``120111T01`` 西青区's first township centre. The small demo uses the same codes, so its
institutions are the full catalogue's.
"""

from dataclasses import dataclass
from functools import cache

from cloud_management.models import Institution
from cloud_management.tianjin import TIANJIN_DISTRICTS
from healthcommunity.demo.places import (
    DIGITAL_HOSPITAL,
    DISTRICT_PLACES,
    GENERAL_HOSPITALS,
    VILLAGE_CLINICS,
)

TIANJIN_INSTITUTION_COUNT = 266
# The first community centre of 南开区: where the demo logins work.
DEMO_INSTITUTION_CODE = "120104C01"
DEMO_DISTRICT_CODE = "120104"

Kind = Institution.Kind
PRIMARY_CARE_KINDS = frozenset({Kind.COMMUNITY_CENTRE, Kind.TOWNSHIP_CENTRE, Kind.VILLAGE_CLINIC})
_KIND_LETTER: dict[str, str] = {
    Kind.COMMUNITY_CENTRE: "C",
    Kind.TOWNSHIP_CENTRE: "T",
    Kind.VILLAGE_CLINIC: "V",
    Kind.DIGITAL_HOSPITAL: "D",
    Kind.GENERAL_HOSPITAL: "H",
}
# Small demo: (community centres, township centres) taken first from each district.
_SMALL_CENTRES: dict[str, tuple[int, int]] = {
    "120101": (2, 0), "120102": (1, 0), "120103": (2, 0), "120104": (4, 0),
    "120105": (1, 0), "120106": (1, 0), "120110": (1, 0), "120111": (1, 1),
    "120112": (0, 1), "120113": (1, 1), "120114": (1, 1), "120115": (1, 1),
    "120116": (2, 1), "120117": (0, 1), "120118": (0, 1), "120119": (0, 1),
}  # fmt: skip
_SMALL_VILLAGE_CLINICS = 3
_SMALL_GENERAL_HOSPITALS = 1
# Every third centre of a district (its first included) runs a standard chronic-care centre.
_CHRONIC_CARE_EVERY = 3


@dataclass(frozen=True)
class InstitutionSpec:
    code: str
    name: str
    district_code: str
    kind: str
    chronic_care_centre: bool
    # The town a township centre or village clinic serves ("" in built-up areas): rural
    # residents registered there get a village address in it.
    town: str = ""

    @property
    def is_primary_care(self) -> bool:
        """Residents register with primary-care institutions, never with hospitals."""
        return self.kind in PRIMARY_CARE_KINDS


def district_names() -> dict[str, str]:
    return dict(TIANJIN_DISTRICTS)


def _centres_of_district(places_index: int) -> list[InstitutionSpec]:
    places = DISTRICT_PLACES[places_index]
    district_name = district_names()[places.code]
    specs: list[InstitutionSpec] = []

    def add(kind: str, name: str, town: str = "") -> None:
        number = sum(1 for spec in specs if spec.kind == kind) + 1
        specs.append(
            InstitutionSpec(
                code=f"{places.code}{_KIND_LETTER[kind]}{number:02d}",
                name=name,
                district_code=places.code,
                kind=kind,
                chronic_care_centre=len(specs) % _CHRONIC_CARE_EVERY == 0,
                town=town,
            )
        )

    for road in places.road_centres:
        add(Kind.COMMUNITY_CENTRE, f"{district_name}{road}社区卫生服务中心")
    for street in places.streets:
        add(Kind.COMMUNITY_CENTRE, f"{district_name}{street}街社区卫生服务中心")
    for town in places.towns:
        add(Kind.TOWNSHIP_CENTRE, f"{district_name}{town}卫生院", town)
    return specs


def _hospital(district_code: str, kind: str, number: int, name: str) -> InstitutionSpec:
    return InstitutionSpec(
        code=f"{district_code}{_KIND_LETTER[kind]}{number:02d}",
        name=name,
        district_code=district_code,
        kind=kind,
        chronic_care_centre=kind == Kind.DIGITAL_HOSPITAL,
    )


def _general_hospitals() -> list[InstitutionSpec]:
    numbers: dict[str, int] = {}
    specs = []
    for district_code, name in GENERAL_HOSPITALS:
        numbers[district_code] = numbers.get(district_code, 0) + 1
        specs.append(_hospital(district_code, Kind.GENERAL_HOSPITAL, numbers[district_code], name))
    return specs


def _village_clinics(count: int) -> list[InstitutionSpec]:
    names = district_names()
    numbers: dict[str, int] = {}
    specs = []
    for district_code, town, village in VILLAGE_CLINICS[:count]:
        numbers[district_code] = numbers.get(district_code, 0) + 1
        specs.append(
            InstitutionSpec(
                code=f"{district_code}V{numbers[district_code]:02d}",
                name=f"{names[district_code]}{town}{village}卫生室",
                district_code=district_code,
                kind=Kind.VILLAGE_CLINIC,
                chronic_care_centre=False,
                town=town,
            )
        )
    return specs


@cache
def tianjin_institutions() -> tuple[InstitutionSpec, ...]:
    """All 266: every community and township centre, the digital hospital, the general
    hospitals, and village clinics to make up the number."""
    centres = [
        spec for index in range(len(DISTRICT_PLACES)) for spec in _centres_of_district(index)
    ]
    digital = _hospital(DIGITAL_HOSPITAL[0], Kind.DIGITAL_HOSPITAL, 1, DIGITAL_HOSPITAL[1])
    hospitals = [digital, *_general_hospitals()]
    villages = TIANJIN_INSTITUTION_COUNT - len(centres) - len(hospitals)
    if not 0 <= villages <= len(VILLAGE_CLINICS):
        raise ValueError(f"The catalogue cannot make {TIANJIN_INSTITUTION_COUNT} institutions.")
    return (*hospitals, *centres, *_village_clinics(villages))


@cache
def small_institutions() -> tuple[InstitutionSpec, ...]:
    """About 30: a few centres per district, the digital hospital, a general hospital and three
    village clinics."""
    digital = _hospital(DIGITAL_HOSPITAL[0], Kind.DIGITAL_HOSPITAL, 1, DIGITAL_HOSPITAL[1])
    chosen = [digital, *_general_hospitals()[:_SMALL_GENERAL_HOSPITALS]]
    for index, places in enumerate(DISTRICT_PLACES):
        community, township = _SMALL_CENTRES[places.code]
        centres = _centres_of_district(index)
        chosen += [spec for spec in centres if spec.kind == Kind.COMMUNITY_CENTRE][:community]
        chosen += [spec for spec in centres if spec.kind == Kind.TOWNSHIP_CENTRE][:township]
    chosen += _village_clinics(_SMALL_VILLAGE_CLINICS)
    return tuple(chosen)

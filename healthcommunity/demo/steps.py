"""What every scale does, as steps over a shared context.

A scale is a list of steps (``healthcommunity.demo.small.STEPS``,
``healthcommunity.demo.tianjin.STEPS``); a step is a function of the :class:`SeedContext` that
reads what earlier steps left there (institution ids, staff ids, the demo patient) and adds its
own rows. Later issues extend a scale by appending their steps (follow-ups, lab results,
claims) to its list.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from cloud_management.models import District, Institution, Patient
from healthcommunity.demo.bulk import References
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE, InstitutionSpec
from healthcommunity.demo.staff import (
    ensure_demo_staff_logins,
    ensure_institution_staff,
    ensure_patient_login,
)


@dataclass
class SeedContext:
    scale: str
    year: int
    write: Callable[[str], None]
    # Override the scale's population (tests use small counts of the full-scale path).
    residents: int | None = None
    enrolments: int | None = None
    # "copy" or "orm"; None picks COPY on PostgreSQL and the ORM elsewhere.
    writer: str | None = None
    references: References = field(default_factory=lambda: References({}, {}))
    demo_patient_resident_id: str | None = None
    # For later steps to share what they made (exam items, schemes, ...).
    shared: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def log(self, message: str) -> None:
        self.write(f"[{time.monotonic() - self.started:6.1f} s] {message}")

    @property
    def use_copy(self) -> bool:
        if self.writer is not None:
            return self.writer == "copy"
        return connection.vendor == "postgresql"


Step = Callable[[SeedContext], None]


class SeedRefused(Exception):
    """The database is not in a state this scale can seed; the message says why."""


def upsert_institutions(ctx: SeedContext, specs: Sequence[InstitutionSpec]) -> None:
    """Create the institutions by code, or bring existing ones back to the catalogue."""
    districts = dict(District.objects.values_list("code", "pk"))
    missing = sorted({spec.district_code for spec in specs} - set(districts))
    if missing:
        # The districts are reference data from migration 0002; the demo never creates them.
        raise SeedRefused(
            _("Districts %(codes)s are missing: run migrate first.") % {"codes": ", ".join(missing)}
        )
    existing = {
        institution.code: institution
        for institution in Institution.objects.filter(code__in=[spec.code for spec in specs])
    }
    to_create, to_update = [], []
    for spec in specs:
        values = {
            "name": spec.name,
            "district_id": districts[spec.district_code],
            "kind": spec.kind,
            "is_chronic_care_centre": spec.chronic_care_centre,
            "is_active": True,
        }
        institution = existing.get(spec.code)
        if institution is None:
            to_create.append(Institution(code=spec.code, **values))
        elif any(getattr(institution, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(institution, name, value)
            to_update.append(institution)
    Institution.objects.bulk_create(to_create)
    Institution.objects.bulk_update(to_update, ["name", "district_id", "kind",
                                                "is_chronic_care_centre", "is_active"])  # fmt: skip
    ids = dict(
        Institution.objects.filter(code__in=[spec.code for spec in specs]).values_list("code", "pk")
    )
    ctx.references.districts = districts
    ctx.references.institutions = ids
    ctx.log(
        _("Institutions: %(total)d (%(created)d new, %(updated)d updated).")
        % {"total": len(ids), "created": len(to_create), "updated": len(to_update)}
    )


def seed_staff(ctx: SeedContext) -> None:
    """The demo logins at the demo institution, then every institution's doctors and health
    managers (who hold the enrolments)."""
    refs = ctx.references
    ensure_demo_staff_logins(
        institution_id=refs.institutions[DEMO_INSTITUTION_CODE], district_ids=refs.districts
    )
    refs.doctors, refs.managers = ensure_institution_staff(refs.institutions)
    staff = sum(len(ids) for ids in refs.doctors.values()) + sum(
        len(ids) for ids in refs.managers.values()
    )
    ctx.log(_("Staff: demo logins and %(count)d doctors and health managers.") % {"count": staff})


def seed_patient_login(ctx: SeedContext) -> None:
    """The demo patient's login (resident 0 of the population, at the demo institution)."""
    if ctx.demo_patient_resident_id is None:
        return
    patient = Patient.objects.get(resident_id=ctx.demo_patient_resident_id)
    ensure_patient_login(patient)
    ctx.log(_("Demo patient login: %(username)s.") % {"username": patient.phone})

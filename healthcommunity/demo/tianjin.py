"""The full-scale demo: the whole Tianjin health community.

266 institutions in the 16 districts, 600,000 residents, family-doctor contracts for about
two in three, and 220,000 diabetes enrolments. On PostgreSQL the residents, contracts and
enrolments are streamed with COPY in chunks; elsewhere the portable ORM path writes the same
rows, more slowly.

It loads into a registry without residents and refuses otherwise (rather than deleting
anyone's data): seed a freshly migrated database.
"""

import time
from collections.abc import Callable, Sequence

from django.db import connection
from django.utils.translation import gettext as _

from cloud_management.models import DiabetesEnrollment, FamilyDoctorContract, Patient
from healthcommunity.demo import care_tianjin
from healthcommunity.demo import payments as demo_payments
from healthcommunity.demo.bulk import (
    References,
    WriteCounts,
    analyze_registry,
    batched,
    indexes_deferred,
    write_with_copy,
    write_with_orm,
)
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE, tianjin_institutions
from healthcommunity.demo.generate import PopulationPlan, ResidentRow, generate_residents
from healthcommunity.demo.steps import (
    SeedContext,
    SeedRefused,
    Step,
    seed_patient_login,
    seed_staff,
    upsert_institutions,
)

RESIDENTS = 600_000
ENROLMENTS = 220_000
TRANSFER_SHARE = 0.02
CONTRACT_SHARE = 0.65
SEED = 10_000
CHUNK = 50_000
REGISTRY_TABLES = (Patient, FamilyDoctorContract, DiabetesEnrollment)


def plan_for(ctx: SeedContext) -> PopulationPlan:
    residents = RESIDENTS if ctx.residents is None else ctx.residents
    enrolments = ENROLMENTS if ctx.enrolments is None else ctx.enrolments
    return PopulationPlan(
        institutions=tianjin_institutions(),
        residents=residents,
        enrolments=enrolments,
        transfers=round(enrolments * TRANSFER_SHARE),
        contract_share=CONTRACT_SHARE,
        year=ctx.year,
        seed=SEED + ctx.year,
        id_block=0,
        featured_institution=DEMO_INSTITUTION_CODE,
    )


def refuse_if_residents_exist(ctx: SeedContext) -> None:
    count = Patient.objects.count()
    if count:
        raise SeedRefused(
            _(
                "The tianjin scale loads into a registry without residents, and this database "
                "has %(count)d. Seed a fresh database: create it, run migrate, then run "
                "seed_demo --scale tianjin."
            )
            % {"count": count}
        )


def seed_institutions(ctx: SeedContext) -> None:
    upsert_institutions(ctx, tianjin_institutions())


def seed_residents(ctx: SeedContext) -> None:
    plan = plan_for(ctx)
    if ctx.use_copy:
        ctx.log(_("Residents: writing %(count)d with COPY.") % {"count": plan.residents})
        # The registry's tables are empty (refuse_if_residents_exist): load them without
        # their secondary indexes and constraints, then rebuild those in one pass each.
        with indexes_deferred(REGISTRY_TABLES) as deferred:
            _write_residents(ctx, plan, write_with_copy)
            ctx.log(_("Rebuilding %(count)d indexes and constraints.") % {"count": deferred})
        ctx.log(_("Indexes and constraints rebuilt and validated."))
    else:
        ctx.log(_("Residents: writing %(count)d with bulk_create.") % {"count": plan.residents})
        _write_residents(ctx, plan, write_with_orm)


def _write_residents(
    ctx: SeedContext,
    plan: PopulationPlan,
    write: Callable[[Sequence[ResidentRow], References], WriteCounts],
) -> None:
    total = WriteCounts()
    started = time.monotonic()
    for chunk in batched(generate_residents(plan), CHUNK):
        if total.residents == 0:
            ctx.demo_patient_resident_id = chunk[0].resident_id
        total.add(write(chunk, ctx.references))
        elapsed = time.monotonic() - started
        ctx.log(
            _(
                "Residents: %(done)d of %(total)d, %(contracts)d contracts, %(enrolments)d "
                "enrolments (%(rate)d residents/s)."
            )
            % {
                "done": total.residents,
                "total": plan.residents,
                "contracts": total.contracts,
                "enrolments": total.enrolments,
                "rate": total.residents / elapsed if elapsed else 0,
            }
        )


def analyze(ctx: SeedContext) -> None:
    if connection.vendor == "postgresql":
        analyze_registry()
        ctx.log(_("Planner statistics refreshed (ANALYZE)."))


STEPS: list[Step] = [
    refuse_if_residents_exist,
    seed_institutions,
    seed_staff,
    seed_residents,
    seed_patient_login,
    analyze,
]
# Follow-ups and lab results before the payments: the year's settlement reads the indicators.
STEPS += care_tianjin.STEPS
STEPS += demo_payments.steps(history=True)

"""The small demo: a believable Tianjin community in seconds, on any database.

About 30 institutions in the 16 districts, 2,000 residents, family-doctor contracts for most of
them, diabetes enrolments for about one in ten (a few transferred between institutions), and a
login per role. Running it again for the same year adds nothing: institutions are keyed by
code, logins by username, residents by resident ID (an existing resident is skipped with their
histories). Ages are relative to the year, so another year brings another cohort.
"""

from django.utils.translation import gettext as _

from healthcommunity.demo import care as demo_care
from healthcommunity.demo import exams as demo_exams
from healthcommunity.demo import payments as demo_payments
from healthcommunity.demo import pharmacy as demo_pharmacy
from healthcommunity.demo import services as demo_services
from healthcommunity.demo.bulk import write_with_orm
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE, small_institutions
from healthcommunity.demo.generate import PopulationPlan, generate_residents
from healthcommunity.demo.steps import (
    SeedContext,
    Step,
    seed_patient_login,
    seed_staff,
    upsert_institutions,
)

RESIDENTS = 2_000
ENROLMENTS = 200
TRANSFER_SHARE = 0.03
CONTRACT_SHARE = 0.70
SEED = 20_000


def plan_for(ctx: SeedContext) -> PopulationPlan:
    residents = RESIDENTS if ctx.residents is None else ctx.residents
    enrolments = ENROLMENTS if ctx.enrolments is None else ctx.enrolments
    return PopulationPlan(
        institutions=small_institutions(),
        residents=residents,
        enrolments=enrolments,
        transfers=round(enrolments * TRANSFER_SHARE),
        contract_share=CONTRACT_SHARE,
        year=ctx.year,
        seed=SEED + ctx.year,
        id_block=1,
        featured_institution=DEMO_INSTITUTION_CODE,
    )


def seed_institutions(ctx: SeedContext) -> None:
    upsert_institutions(ctx, small_institutions())


def seed_residents(ctx: SeedContext) -> None:
    rows = list(generate_residents(plan_for(ctx)))
    if rows:
        ctx.demo_patient_resident_id = rows[0].resident_id
    counts = write_with_orm(rows, ctx.references)
    ctx.log(
        _(
            "Residents: %(residents)d new (of %(total)d), %(contracts)d contracts, "
            "%(enrolments)d diabetes enrolments."
        )
        % {
            "residents": counts.residents,
            "total": len(rows),
            "contracts": counts.contracts,
            "enrolments": counts.enrolments,
        }
    )


STEPS: list[Step] = [seed_institutions, seed_staff, seed_residents, seed_patient_login]
STEPS += demo_care.STEPS
STEPS += demo_exams.STEPS
STEPS += demo_payments.steps(
    resident_ids=lambda ctx: [row.resident_id for row in generate_residents(plan_for(ctx))],
    habits=demo_payments.LONG_PRESCRIPTIONS,
)
STEPS += demo_pharmacy.STEPS
STEPS += demo_services.STEPS

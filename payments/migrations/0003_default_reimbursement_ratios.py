"""Default reimbursement ratios, in force from 2024 until an operator sets a later year's.

Modelled on Tianjin's published ratios at primary-care (level-one) institutions: the employee
scheme (职工医保) pays 75 % of outpatient care and medicines, the resident scheme (城乡居民医保)
55 %; inpatient care more. Exams and home medical services are paid a little below outpatient
care. Operators edit them in the admin.
"""

from decimal import Decimal

from django.db import migrations

BASE_YEAR = 2024
DEFAULT_RATIOS = {
    # (insurance type, category): the fund's share
    ("employee", "outpatient"): Decimal("0.75"),
    ("employee", "pharmacy"): Decimal("0.75"),
    ("employee", "exam"): Decimal("0.70"),
    ("employee", "home_service"): Decimal("0.70"),
    ("employee", "inpatient"): Decimal("0.90"),
    ("resident", "outpatient"): Decimal("0.55"),
    ("resident", "pharmacy"): Decimal("0.55"),
    ("resident", "exam"): Decimal("0.50"),
    ("resident", "home_service"): Decimal("0.50"),
    ("resident", "inpatient"): Decimal("0.75"),
}


def add_default_ratios(apps, schema_editor):
    ReimbursementRatio = apps.get_model("payments", "ReimbursementRatio")
    for (insurance_type, category), fund_ratio in DEFAULT_RATIOS.items():
        ReimbursementRatio.objects.get_or_create(
            year=BASE_YEAR,
            insurance_type=insurance_type,
            category=category,
            defaults={"fund_ratio": fund_ratio},
        )


def remove_default_ratios(apps, schema_editor):
    ReimbursementRatio = apps.get_model("payments", "ReimbursementRatio")
    for (insurance_type, category), fund_ratio in DEFAULT_RATIOS.items():
        ReimbursementRatio.objects.filter(
            year=BASE_YEAR, insurance_type=insurance_type, category=category, fund_ratio=fund_ratio
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_reimbursement_ratio")]

    operations = [migrations.RunPython(add_default_ratios, remove_default_ratios)]

""""A resident holds one family-doctor contract at a time" held by the database, as the
enrolments' rule is (migration 0002): an exclusion constraint on PostgreSQL, triggers on SQLite.
Per-capita settlement counts a resident's covered days at the contract's institution, so two
contracts sharing a day would pay for the day twice (CONTRACTS §4)."""

from django.db import migrations

TABLE = "cloud_management_familydoctorcontract"

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""ALTER TABLE {TABLE} ADD CONSTRAINT contract_no_overlapping_days
        EXCLUDE USING gist (patient_id WITH =, daterange(signed_on, ended_on, '[]') WITH &&)""",
]
POSTGRES_BACKWARD = [f"ALTER TABLE {TABLE} DROP CONSTRAINT contract_no_overlapping_days"]

_SQLITE_OVERLAP = f"""EXISTS (
    SELECT 1 FROM {TABLE} AS other
    WHERE other.patient_id = NEW.patient_id {{same_row}}
      AND other.signed_on <= COALESCE(NEW.ended_on, '9999-12-31')
      AND COALESCE(other.ended_on, '9999-12-31') >= NEW.signed_on)"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER contract_no_overlapping_days_insert BEFORE INSERT ON {TABLE}
        WHEN {_SQLITE_OVERLAP.format(same_row="")}
        BEGIN SELECT RAISE(ABORT, 'contract_no_overlapping_days'); END""",
    f"""CREATE TRIGGER contract_no_overlapping_days_update BEFORE UPDATE ON {TABLE}
        WHEN {_SQLITE_OVERLAP.format(same_row="AND other.id <> NEW.id")}
        BEGIN SELECT RAISE(ABORT, 'contract_no_overlapping_days'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS contract_no_overlapping_days_insert",
    "DROP TRIGGER IF EXISTS contract_no_overlapping_days_update",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("cloud_management", "0003_admin_indexes")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]

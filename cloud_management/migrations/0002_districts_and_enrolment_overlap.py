"""The 16 Tianjin districts as data, and "one diabetes enrolment per resident on any day" held
by the database: an exclusion constraint on PostgreSQL, triggers on SQLite."""

from django.db import migrations

TABLE = "cloud_management_diabetesenrollment"

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""ALTER TABLE {TABLE} ADD CONSTRAINT enrolment_no_overlapping_days
        EXCLUDE USING gist (patient_id WITH =, daterange(enrolled_on, ended_on, '[]') WITH &&)""",
]
POSTGRES_BACKWARD = [f"ALTER TABLE {TABLE} DROP CONSTRAINT enrolment_no_overlapping_days"]

_SQLITE_OVERLAP = f"""EXISTS (
    SELECT 1 FROM {TABLE} AS other
    WHERE other.patient_id = NEW.patient_id {{same_row}}
      AND other.enrolled_on <= COALESCE(NEW.ended_on, '9999-12-31')
      AND COALESCE(other.ended_on, '9999-12-31') >= NEW.enrolled_on)"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER enrolment_no_overlapping_days_insert BEFORE INSERT ON {TABLE}
        WHEN {_SQLITE_OVERLAP.format(same_row="")}
        BEGIN SELECT RAISE(ABORT, 'enrolment_no_overlapping_days'); END""",
    f"""CREATE TRIGGER enrolment_no_overlapping_days_update BEFORE UPDATE ON {TABLE}
        WHEN {_SQLITE_OVERLAP.format(same_row="AND other.id <> NEW.id")}
        BEGIN SELECT RAISE(ABORT, 'enrolment_no_overlapping_days'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS enrolment_no_overlapping_days_insert",
    "DROP TRIGGER IF EXISTS enrolment_no_overlapping_days_update",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def load_districts(apps, schema_editor):
    from cloud_management.tianjin import TIANJIN_DISTRICTS

    District = apps.get_model("cloud_management", "District")
    for code, name in TIANJIN_DISTRICTS:
        District.objects.update_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("cloud_management", "0001_initial")]

    operations = [
        migrations.RunPython(load_districts, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]

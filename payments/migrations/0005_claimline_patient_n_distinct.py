"""Tell PostgreSQL how many distinct residents the claim ledger has (issue 3 benchmark).

ANALYZE samples 30,000 lines; at 11.9 million lines it guesses ~36,000 residents instead of
~600,000 and plans the claim-line drill-down as a scan of the whole year's ledger. A fixed
ratio of 1 resident per 20 lines (n_distinct = -0.05) keeps the per-member index plans.
PostgreSQL only: SQLite has no per-column statistics settings. Nothing in the model changes.
"""

from django.db import migrations


def _table(apps, schema_editor):
    model = apps.get_model("payments", "ClaimLine")
    return schema_editor.quote_name(model._meta.db_table)


def set_n_distinct(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = _table(apps, schema_editor)
    schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN patient_id SET (n_distinct = -0.05)")
    # The setting is read by the next ANALYZE; sampling keeps this to seconds at any size.
    schema_editor.execute(f"ANALYZE {table}")


def reset_n_distinct(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = _table(apps, schema_editor)
    schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN patient_id RESET (n_distinct)")
    schema_editor.execute(f"ANALYZE {table}")


class Migration(migrations.Migration):
    dependencies = [("payments", "0004_settlement_schedules")]

    operations = [migrations.RunPython(set_n_distinct, reset_n_distinct)]

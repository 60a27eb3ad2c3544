"""The nightly recompute of the quality snapshots (``chronic_care.tasks``) as a
django-celery-beat row, so that operators edit its time in the admin: every day at 01:30
Asia/Shanghai, before the settlement runs at 02:00.

The name and task must stay as ``chronic_care.tasks`` has them; the time is the operators'.
Reversing the migration removes the task (and its crontab when nothing else uses it).
"""

from django.db import migrations
from django.utils import timezone

TASK = "chronic_care.tasks.refresh_quality_snapshots_task"
NAME = "chronic_care: nightly quality snapshots (the current year so far)"
TIMEZONE = "Asia/Shanghai"
CRONTAB = {"minute": "30", "hour": "1", "day_of_month": "*", "month_of_year": "*"}


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab, _created = CrontabSchedule.objects.get_or_create(
        day_of_week="*", timezone=TIMEZONE, **CRONTAB
    )
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "crontab": crontab,
            "interval": None,
            "solar": None,
            "clocked": None,
            "args": "[]",
            "kwargs": "{}",
            "enabled": True,
            "one_off": False,
            "description": (
                "Recompute the diabetes quality figures of every institution for the current "
                "year's ended months, the month so far and the whole year (and, in January, "
                "the year before), so the dashboards include lab results verified since."
            ),
        },
    )
    # The DatabaseScheduler reloads its schedule when this marker changes; the historical model
    # has no signal handlers to bump it.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab_ids = list(
        PeriodicTask.objects.filter(name=NAME).values_list("crontab_id", flat=True)
    )
    PeriodicTask.objects.filter(name=NAME).delete()
    CrontabSchedule.objects.filter(pk__in=crontab_ids, periodictask__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chronic_care", "0002_quality_snapshot"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]

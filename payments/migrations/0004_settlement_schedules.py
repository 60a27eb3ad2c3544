"""The settlement schedules (issue 3, Deliver 7) as django-celery-beat rows, so that operators
edit them in the admin: the interim settlement of the month before on the 1st of every month,
and the final settlement of the year before on 5 January, both at 02:00 Asia/Shanghai.

Names and task must stay as ``payments.schedules`` has them; the times are the operators'.
Reversing the migration removes the two tasks (and their crontabs when nothing else uses them).
"""

import json

from django.db import migrations
from django.utils import timezone

TASK = "payments.tasks.run_scheduled_settlements_task"
TIMEZONE = "Asia/Shanghai"
SCHEDULES = [
    {
        "name": "payments: monthly interim settlement (the month before)",
        "period": "month",
        "crontab": {"minute": "0", "hour": "2", "day_of_month": "1", "month_of_year": "*"},
        "description": "Interim settlement of every scheme for the month before, on the 1st.",
    },
    {
        "name": "payments: annual final settlement (the year before)",
        "period": "year",
        "crontab": {"minute": "0", "hour": "2", "day_of_month": "5", "month_of_year": "1"},
        "description": "Final settlement of every scheme for the year before, on 5 January.",
    },
]


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for schedule in SCHEDULES:
        crontab, _created = CrontabSchedule.objects.get_or_create(
            day_of_week="*", timezone=TIMEZONE, **schedule["crontab"]
        )
        PeriodicTask.objects.update_or_create(
            name=schedule["name"],
            defaults={
                "task": TASK,
                "crontab": crontab,
                "interval": None,
                "solar": None,
                "clocked": None,
                "args": "[]",
                "kwargs": json.dumps({"period": schedule["period"]}),
                "enabled": True,
                "one_off": False,
                "description": schedule["description"],
            },
        )
    # The DatabaseScheduler reloads its schedule when this marker changes; the historical model
    # has no signal handlers to bump it.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab_ids = list(
        PeriodicTask.objects.filter(name__in=[s["name"] for s in SCHEDULES]).values_list(
            "crontab_id", flat=True
        )
    )
    PeriodicTask.objects.filter(name__in=[s["name"] for s in SCHEDULES]).delete()
    CrontabSchedule.objects.filter(pk__in=crontab_ids, periodictask__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0003_default_reimbursement_ratios"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]

"""Running a scale: its steps in order, in one transaction (all or nothing)."""

from collections.abc import Callable

from django.db import transaction
from django.utils.translation import gettext as _

from healthcommunity.demo import small, tianjin
from healthcommunity.demo.steps import SeedContext, Step

SCALES: dict[str, list[Step]] = {"small": small.STEPS, "tianjin": tianjin.STEPS}


def run_seed(
    *,
    scale: str,
    year: int,
    write: Callable[[str], None],
    residents: int | None = None,
    enrolments: int | None = None,
    writer: str | None = None,
) -> SeedContext:
    """Seed ``scale`` for ``year``; ``residents``/``enrolments`` override its population and
    ``writer`` ("copy"/"orm") its write path. Raises SeedRefused when the scale cannot seed."""
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; expected one of {', '.join(SCALES)}.")
    ctx = SeedContext(
        scale=scale,
        year=year,
        write=write,
        residents=residents,
        enrolments=enrolments,
        writer=writer,
    )
    with transaction.atomic():
        for step in SCALES[scale]:
            step(ctx)
    ctx.log(_("Seeded the %(scale)s demo for %(year)d.") % {"scale": scale, "year": year})
    return ctx

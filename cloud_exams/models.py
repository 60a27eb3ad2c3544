"""云检查: the exam catalogue, orders, specimens, results and critical-value alerts (ISSUE 4).

The life of an exam: a clinic visit, a follow-up or a home-service booking orders items
(:class:`ExamOrder`, :class:`ExamOrderItem`); the items that need a specimen share one
:class:`Specimen` per specimen type, collected and received with a chain of custody; a lab
technician of the performing institution enters each :class:`ExamResult` (or a lab system's
``lab_results`` file imports it), a second person verifies it, and only then does anyone outside
that lab see it. A verified critical value raises a :class:`CriticalValueAlert` on the ordering
institution's worklist until a clinician acknowledges it.

Foreign keys to ``cloud_management`` use ``related_name="+"``: the lower app grows no reverse
accessors (STYLE.md 4.6 rule 2). Upward references (a chronic_care follow-up, a cloud_services
booking) are stored by value in ``ExamOrder.source_ref``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from cloud_management.models import Institution, Patient


class ExamItem(models.Model):
    """One orderable exam of the catalogue, with its unit and price.

    ``insurance_category``: whether the basic medical insurance catalogue covers the item (the
    fund pays its share by the reimbursement ratio in force) or the resident pays all of it.
    ``is_calculated`` items are not performed but derived (eGFR from creatinine): they carry no
    price and post no charge.
    """

    class SpecimenType(models.TextChoices):
        SERUM = "serum", _("serum")
        PLASMA = "plasma", _("plasma")
        WHOLE_BLOOD = "whole_blood", _("whole blood (EDTA)")
        URINE = "urine", _("urine")
        NONE = "none", _("no specimen (examination of the patient)")

    class ResultType(models.TextChoices):
        NUMERIC = "numeric", _("number")
        FINDING = "finding", _("finding (text)")

    class InsuranceCategory(models.TextChoices):
        COVERED = "covered", _("covered by basic medical insurance")
        SELF_PAID = "self_paid", _("paid by the resident")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    loinc_code = models.CharField(_("LOINC code"), max_length=10, blank=True)
    specimen_type = models.CharField(
        _("specimen type"), max_length=20, choices=SpecimenType.choices
    )
    result_type = models.CharField(
        _("result type"), max_length=10, choices=ResultType.choices, default=ResultType.NUMERIC
    )
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    decimal_places = models.PositiveSmallIntegerField(_("decimal places shown"), default=1)
    price = models.DecimalField(_("price (CNY)"), max_digits=10, decimal_places=2)
    insurance_category = models.CharField(
        _("insurance category"),
        max_length=10,
        choices=InsuranceCategory.choices,
        default=InsuranceCategory.COVERED,
    )
    is_calculated = models.BooleanField(_("calculated from other results"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("exam item")
        verbose_name_plural = _("exam items")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="examitem_price_not_negative"),
            models.CheckConstraint(
                condition=Q(result_type="finding") | ~Q(unit=""),
                name="examitem_numeric_has_unit",
                violation_error_message=_("A numeric exam item needs a unit."),
            ),
            models.CheckConstraint(
                condition=Q(is_calculated=False) | Q(price=0),
                name="examitem_calculated_is_free",
                violation_error_message=_("A calculated item has no price."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def needs_specimen(self) -> bool:
        return self.specimen_type != self.SpecimenType.NONE


class ReferenceRange(models.Model):
    """The reference interval and critical limits of a numeric item for one sex (or both) and
    an age band ``[age_from_years, age_to_years)``. Any limit may be open (null): a lipid has
    only an upper desirable limit, most items have no critical limit."""

    class Sex(models.TextChoices):
        ANY = "", _("both sexes")
        MALE = "M", _("male")
        FEMALE = "F", _("female")

    item = models.ForeignKey(
        ExamItem, on_delete=models.CASCADE, related_name="ranges", verbose_name=_("exam item")
    )
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True, default="")
    age_from_years = models.PositiveSmallIntegerField(_("from age (years)"), default=0)
    age_to_years = models.PositiveSmallIntegerField(
        _("below age (years)"), null=True, blank=True, help_text=_("Empty: no upper age.")
    )
    low = models.DecimalField(
        _("lower limit"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    high = models.DecimalField(
        _("upper limit"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    critical_low = models.DecimalField(
        _("critical below"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    critical_high = models.DecimalField(
        _("critical above"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    source = models.CharField(_("source of the limits"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("reference range")
        verbose_name_plural = _("reference ranges")
        ordering = ["item", "sex", "age_from_years"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "sex", "age_from_years"], name="referencerange_one_per_band"
            ),
            models.CheckConstraint(
                condition=Q(age_to_years__isnull=True) | Q(age_to_years__gt=F("age_from_years")),
                name="referencerange_age_band_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(high__isnull=True) | Q(low__lte=F("high")),
                name="referencerange_low_not_above_high",
            ),
            models.CheckConstraint(
                condition=Q(critical_low__isnull=True)
                | Q(low__isnull=True)
                | Q(critical_low__lte=F("low")),
                name="referencerange_critical_low_below_low",
            ),
            models.CheckConstraint(
                condition=Q(critical_high__isnull=True)
                | Q(high__isnull=True)
                | Q(critical_high__gte=F("high")),
                name="referencerange_critical_high_above_high",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} {self.sex or '*'} {self.age_from_years}-{self.age_to_years or ''}"


class ExamOrder(models.Model):
    """An order for one patient from one institution; the performing institution's lab does
    the tests (the ordering institution itself, or a lab it sends specimens to)."""

    class Source(models.TextChoices):
        CLINIC_VISIT = "clinic_visit", _("clinic visit")
        FOLLOW_UP = "follow_up", _("follow-up")
        HOME_SERVICE = "home_service", _("home-service booking")

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident")
    )
    ordering_institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("ordering institution"),
    )
    performing_institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("performing institution"),
    )
    source = models.CharField(_("ordered from"), max_length=20, choices=Source.choices)
    # The follow-up or booking by value (those apps sit above this one).
    source_ref = models.CharField(_("source reference"), max_length=100, blank=True)
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ordered by"),
    )
    ordered_at = models.DateTimeField(_("ordered at"))
    clinical_note = models.CharField(_("clinical note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("exam order")
        verbose_name_plural = _("exam orders")
        ordering = ["-ordered_at", "-id"]
        indexes = [
            models.Index(fields=["ordering_institution", "-ordered_at"], name="examorder_orderer"),
            models.Index(
                fields=["performing_institution", "-ordered_at"], name="examorder_performer"
            ),
            models.Index(fields=["patient", "-ordered_at"], name="examorder_patient"),
        ]

    def __str__(self) -> str:
        return _("Exam order %(number)s") % {"number": self.number}

    @property
    def number(self) -> str:
        return f"EO{self.pk:08d}" if self.pk else "-"


class Specimen(models.Model):
    """One tube or cup with its barcode and chain of custody."""

    order = models.ForeignKey(
        ExamOrder, on_delete=models.CASCADE, related_name="specimens", verbose_name=_("order")
    )
    barcode = models.CharField(_("barcode"), max_length=20, unique=True)
    specimen_type = models.CharField(
        _("specimen type"), max_length=20, choices=ExamItem.SpecimenType.choices
    )
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("collected by"),
    )
    collected_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("received by"),
    )
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)

    class Meta:
        verbose_name = _("specimen")
        verbose_name_plural = _("specimens")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "specimen_type"], name="specimen_one_per_type_per_order"
            ),
            models.CheckConstraint(
                condition=Q(collected_at__isnull=True, collected_by__isnull=True)
                | Q(collected_at__isnull=False, collected_by__isnull=False),
                name="specimen_collection_complete",
            ),
            models.CheckConstraint(
                condition=Q(received_at__isnull=True, received_by__isnull=True)
                | Q(
                    received_at__isnull=False,
                    received_by__isnull=False,
                    collected_at__isnull=False,
                    received_at__gte=F("collected_at"),
                ),
                name="specimen_received_after_collection",
                violation_error_message=_("A specimen is received after it is collected."),
            ),
        ]
        indexes = [
            models.Index(fields=["collected_at", "received_at"], name="specimen_custody"),
        ]

    def __str__(self) -> str:
        return self.barcode


class ExamOrderItem(models.Model):
    """One item of an order, the specimen it is tested on, and the price charged for it."""

    order = models.ForeignKey(
        ExamOrder, on_delete=models.CASCADE, related_name="items", verbose_name=_("order")
    )
    item = models.ForeignKey(
        ExamItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("exam item")
    )
    specimen = models.ForeignKey(
        Specimen,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="order_items",
        verbose_name=_("specimen"),
    )
    price = models.DecimalField(_("price (CNY)"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name = _("ordered item")
        verbose_name_plural = _("ordered items")
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "item"], name="examorderitem_once_per_order"),
        ]

    def __str__(self) -> str:
        return f"{self.order.number} {self.item.code}"


class ExamResult(models.Model):
    """A result: entered for an ordered item, or imported from a lab system (no order item).

    Patient, item, institutions and the collection date are kept on the row so that imported
    and entered results read the same way (:func:`cloud_exams.selectors.verified_results`).
    ``entry_key`` is the natural key: ``item:<order item id>`` for an entered result,
    ``import:<resident id>:<item code>:<collected_on>`` for an imported one, so a re-import
    updates its row (CONTRACTS §1).

    Nobody outside the performing institution's lab sees a result before ``verified_at`` is
    set, and the verifier is never the person who entered it (a database constraint).
    """

    class Flag(models.TextChoices):
        NONE = "", _("no reference range")
        NORMAL = "N", _("normal")
        LOW = "L", _("low")
        HIGH = "H", _("high")
        CRITICAL_LOW = "LL", _("critically low")
        CRITICAL_HIGH = "HH", _("critically high")
        ABNORMAL = "A", _("abnormal")

    CRITICAL_FLAGS = frozenset({Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH})

    class Origin(models.TextChoices):
        ENTERED = "entered", _("entered by the lab")
        IMPORTED = "imported", _("imported from a lab system")
        CALCULATED = "calculated", _("calculated")

    entry_key = models.CharField(_("entry key"), max_length=100, unique=True)
    order_item = models.OneToOneField(
        ExamOrderItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="result",
        verbose_name=_("ordered item"),
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident")
    )
    item = models.ForeignKey(
        ExamItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("exam item")
    )
    ordering_institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("ordering institution"),
    )
    performing_institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("performing institution"),
    )
    collected_on = models.DateField(_("collected on"))
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=4, null=True, blank=True)
    value_text = models.CharField(_("finding"), max_length=500, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    flag = models.CharField(_("flag"), max_length=2, choices=Flag.choices, blank=True)
    reference_text = models.CharField(_("reference range"), max_length=60, blank=True)
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entered by"),
    )
    entered_at = models.DateTimeField(_("entered at"))
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("exam result")
        verbose_name_plural = _("exam results")
        ordering = ["-collected_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(verified_by__isnull=True)
                | Q(entered_by__isnull=True)
                | ~Q(verified_by=F("entered_by")),
                name="examresult_verifier_is_not_enterer",
                violation_error_message=_(
                    "A result is verified by a second person, not by the one who entered it."
                ),
            ),
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True, verified_by__isnull=True)
                | Q(verified_at__isnull=False, verified_by__isnull=False),
                name="examresult_verification_complete",
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=False) | ~Q(value_text=""),
                name="examresult_has_value",
            ),
        ]
        indexes = [
            # verified_results(): a patient's verified values of an item by date.
            models.Index(
                fields=["patient", "item", "collected_on"],
                condition=Q(verified_at__isnull=False),
                name="examresult_verified_patient",
            ),
            models.Index(
                fields=["performing_institution", "entered_at"],
                condition=Q(verified_at__isnull=True),
                name="examresult_awaiting_verify",
            ),
        ]

    def __str__(self) -> str:
        shown = self.value_text if self.value is None else f"{self.value.normalize():f}"
        return f"{self.item.code} {shown} {self.unit}".strip()

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def is_critical(self) -> bool:
        return self.flag in self.CRITICAL_FLAGS

    @property
    def display_value(self) -> str:
        if self.value is None:
            return self.value_text
        places = self.item.decimal_places
        return f"{self.value:.{places}f}"


class CriticalValueAlert(models.Model):
    """A verified critical value on the ordering institution's worklist until a clinician
    there acknowledges that the patient has been informed and handled."""

    result = models.OneToOneField(
        ExamResult,
        on_delete=models.CASCADE,
        related_name="critical_alert",
        verbose_name=_("result"),
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("ordering institution"),
    )
    raised_at = models.DateTimeField(_("raised at"))
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    action_taken = models.CharField(_("action taken"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("critical-value alert")
        verbose_name_plural = _("critical-value alerts")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True)
                | Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False),
                name="criticalvaluealert_acknowledgement_complete",
            ),
        ]
        indexes = [
            models.Index(
                fields=["institution", "raised_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="criticalalert_open",
            ),
        ]

    def __str__(self) -> str:
        return str(self.result)

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


# --- Worklists: proxy models, one admin changelist each ----------------------------------------


class SpecimenAwaitingCollection(Specimen):
    """Ordered specimens nobody has collected yet."""

    class Meta:
        proxy = True
        verbose_name = _("specimen awaiting collection")
        verbose_name_plural = _("worklist: awaiting collection")


class SpecimenAwaitingReceipt(Specimen):
    """Collected specimens the lab has not received yet."""

    class Meta:
        proxy = True
        verbose_name = _("specimen awaiting receipt")
        verbose_name_plural = _("worklist: awaiting receipt by the lab")


class OrderItemAwaitingResult(ExamOrderItem):
    """Ordered items whose specimen the lab has (or that need none) without a result yet."""

    class Meta:
        proxy = True
        verbose_name = _("item awaiting its result")
        verbose_name_plural = _("worklist: awaiting result")


class ResultAwaitingVerification(ExamResult):
    """Results entered or imported, not yet verified by a second person."""

    class Meta:
        proxy = True
        verbose_name = _("result awaiting verification")
        verbose_name_plural = _("worklist: awaiting verification")


class OpenCriticalValueAlert(CriticalValueAlert):
    """Verified critical values the ordering institution has not acknowledged."""

    class Meta:
        proxy = True
        verbose_name = _("unacknowledged critical value")
        verbose_name_plural = _("worklist: critical values unacknowledged")

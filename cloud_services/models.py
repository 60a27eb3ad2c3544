"""云服务 models: the home-service catalogue, slots and their weekly templates, bookings, the
visit's timestamped events and the first-visit assessment (ISSUE 5).

Invariants the database holds:
- a slot is never overbooked: ``0 <= booked <= capacity`` (``servicesslot_booked_within_capacity``);
- a patient holds at most one active booking per slot (a partial unique constraint);
- a booking that a nurse works on names that nurse.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from cloud_exams.models import ExamItem, ExamOrder
from cloud_management.models import Institution, Patient, StaffRole
from payments.models import ClaimLine


class ServiceItem(models.Model):
    """One home service of the "Internet + nursing" catalogue (互联网+护理服务项目)."""

    class Category(models.TextChoices):
        SPECIMEN_COLLECTION = "specimen_collection", _("specimen collection")
        BASIC_NURSING = "basic_nursing", _("basic nursing")
        SPECIALIST_NURSING = "specialist_nursing", _("specialist nursing")
        CHRONIC_DISEASE = "chronic_disease", _("chronic-disease care")
        REHABILITATION = "rehabilitation", _("rehabilitation nursing")
        MATERNAL_INFANT = "maternal_infant", _("mother and baby care")
        TCM_NURSING = "tcm_nursing", _("traditional Chinese medicine nursing")
        HOSPICE = "hospice", _("hospice care")

    class InsuranceCategory(models.TextChoices):
        CLASS_A = "class_a", _("insurance class A")
        CLASS_B = "class_b", _("insurance class B")
        SELF_PAID = "self_paid", _("self-paid")

    PERFORMING_ROLES = [
        (StaffRole.Role.NURSE.value, StaffRole.Role.NURSE.label),
        (StaffRole.Role.DOCTOR.value, StaffRole.Role.DOCTOR.label),
    ]

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(_("category"), max_length=30, choices=Category.choices)
    fee = models.DecimalField(_("fee (CNY)"), max_digits=8, decimal_places=2)
    insurance_category = models.CharField(
        _("insurance category"), max_length=20, choices=InsuranceCategory.choices
    )
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"))
    performing_role = models.CharField(
        _("performed by"), max_length=20, choices=PERFORMING_ROLES, default=StaffRole.Role.NURSE
    )
    eligibility = models.TextField(_("who may book it"))
    # The exam items a collected specimen is tested for (empty for other services).
    exam_items = models.ManyToManyField(
        ExamItem, blank=True, related_name="+", verbose_name=_("exam items fed")
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order in the catalogue"), default=0)

    class Meta:
        verbose_name = _("home service")
        verbose_name_plural = _("home services")
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(fee__gte=0), name="serviceitem_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0), name="serviceitem_duration_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def requires_specimen(self) -> bool:
        return self.category == self.Category.SPECIMEN_COLLECTION

    @property
    def is_covered(self) -> bool:
        return self.insurance_category != self.InsuranceCategory.SELF_PAID


class SlotTemplate(models.Model):
    """A weekly recurring time window at one institution, from which slots are generated."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="+", verbose_name=_("institution")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))
    capacity = models.PositiveSmallIntegerField(_("places"))
    items = models.ManyToManyField(ServiceItem, related_name="+", verbose_name=_("services"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("weekly slot template")
        verbose_name_plural = _("weekly slot templates")
        ordering = ["institution", "weekday", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "weekday", "start"], name="slottemplate_unique_window"
            ),
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="slottemplate_start_end"),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="slottemplate_capacity"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class ServiceSlot(models.Model):
    """A time window on one day when an institution's nurses visit homes; ``booked`` places
    of ``capacity`` are taken. Only the services in ``items`` are booked in it."""

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("institution")
    )
    date = models.DateField(_("date"))
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))
    capacity = models.PositiveSmallIntegerField(_("places"))
    booked = models.PositiveSmallIntegerField(_("booked"), default=0)
    items = models.ManyToManyField(ServiceItem, related_name="+", verbose_name=_("services"))
    template = models.ForeignKey(
        SlotTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="slots",
        verbose_name=_("from template"),
    )

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["date", "start", "institution"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "date", "start"], name="serviceslot_unique_window"
            ),
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="serviceslot_start_end"),
            models.CheckConstraint(
                condition=Q(booked__gte=0) & Q(booked__lte=F("capacity")),
                name="serviceslot_booked_within_capacity",
                violation_error_message=_("A slot cannot hold more bookings than places."),
            ),
        ]
        indexes = [models.Index(fields=["date", "institution"], name="serviceslot_day")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def remaining(self) -> int:
        return self.capacity - self.booked


class Booking(models.Model):
    """A patient's booking of one home service in one slot, and the visit's progress."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("requested")
        CONFIRMED = "confirmed", _("confirmed")
        ASSIGNED = "assigned", _("nurse assigned")
        ON_THE_WAY = "on_the_way", _("nurse on the way")
        ARRIVED = "arrived", _("nurse arrived")
        SPECIMEN_COLLECTED = "specimen_collected", _("specimen collected")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")
        NO_SHOW = "no_show", _("no one at home")

    # Statuses that hold a place in the slot and count towards "one per patient per slot".
    ACTIVE_STATUSES = (
        Status.REQUESTED,
        Status.CONFIRMED,
        Status.ASSIGNED,
        Status.ON_THE_WAY,
        Status.ARRIVED,
        Status.SPECIMEN_COLLECTED,
    )
    # The patient may cancel until a nurse is on the way (ISSUE 5).
    CANCELLABLE_STATUSES = (Status.REQUESTED, Status.CONFIRMED, Status.ASSIGNED)

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident")
    )
    slot = models.ForeignKey(
        ServiceSlot, on_delete=models.PROTECT, related_name="bookings", verbose_name=_("slot")
    )
    item = models.ForeignKey(
        ServiceItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("service")
    )
    address = models.CharField(_("address"), max_length=200)
    phone = models.CharField(_("phone"), max_length=20)
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED
    )
    # The service's fee when booked: the price the patient agreed to.
    fee = models.DecimalField(_("fee (CNY)"), max_digits=8, decimal_places=2)
    needs_assessment = models.BooleanField(_("first-visit assessment needed"), default=False)
    nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("nurse"),
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("booked by"),
    )
    created_at = models.DateTimeField(_("booked at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last change"), auto_now=True)
    exam_order = models.ForeignKey(
        ExamOrder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("exam order"),
    )
    specimen_barcode = models.CharField(_("specimen barcode"), max_length=100, blank=True)
    claim_line = models.ForeignKey(
        ClaimLine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("claim line"),
    )
    result_notified_at = models.DateTimeField(_("result SMS sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "slot"],
                condition=Q(
                    status__in=[
                        "requested",
                        "confirmed",
                        "assigned",
                        "on_the_way",
                        "arrived",
                        "specimen_collected",
                    ]
                ),
                name="booking_one_active_per_patient_slot",
                violation_error_message=_("You already have a booking in this time slot."),
            ),
            models.CheckConstraint(
                condition=~Q(
                    status__in=[
                        "assigned",
                        "on_the_way",
                        "arrived",
                        "specimen_collected",
                        "completed",
                    ]
                )
                | Q(nurse__isnull=False),
                name="booking_nurse_when_assigned",
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="booking_fee_not_negative"),
        ]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="booking_patient"),
            models.Index(fields=["status"], name="booking_status"),
        ]

    def __str__(self) -> str:
        return _("Booking %(number)s") % {"number": self.number}

    @property
    def number(self) -> str:
        return f"HS{self.pk:08d}" if self.pk else "-"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_cancellable(self) -> bool:
        return self.status in self.CANCELLABLE_STATUSES

    @property
    def nurse_name(self) -> str:
        """The nurse's name as Chinese writes it, surname first (or the user name)."""
        if self.nurse is None:
            return ""
        return f"{self.nurse.last_name}{self.nurse.first_name}".strip() or str(
            self.nurse.get_username()
        )


class VisitEvent(models.Model):
    """One step of a booking's life, with who did it and when: the visit's traceable record."""

    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="events", verbose_name=_("booking")
    )
    status = models.CharField(_("step"), max_length=20, choices=Booking.Status.choices)
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("visit event")
        verbose_name_plural = _("visit events")
        ordering = ["booking", "at", "id"]
        indexes = [models.Index(fields=["booking", "at"], name="visitevent_booking")]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.at:%Y-%m-%d %H:%M}"


class FirstVisitAssessment(models.Model):
    """The institution's assessment before a patient's first home visit for a service, as the
    2019 "Internet + nursing" pilot rules require (国卫办医函〔2019〕80号): the patient's
    condition, the home environment and the risks are assessed before the first visit."""

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident")
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("institution")
    )
    item = models.ForeignKey(
        ServiceItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("service")
    )
    is_suitable = models.BooleanField(_("suitable for home service"))
    note = models.CharField(_("assessment note"), max_length=500, blank=True)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    assessed_at = models.DateTimeField(_("assessed at"))
    booking = models.ForeignKey(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("for booking"),
    )

    class Meta:
        verbose_name = _("first-visit assessment")
        verbose_name_plural = _("first-visit assessments")
        ordering = ["-assessed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "institution", "item"], name="assessment_once_per_service"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.assessed_at:%Y-%m-%d}"

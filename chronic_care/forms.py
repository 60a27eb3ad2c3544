"""Forms of the chronic-care staff screens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from chronic_care.models import FollowUp
from chronic_care.services import EndReason
from chronic_care.worklists import Worklist
from cloud_management.models import Institution, StaffRole


class FollowUpAdminForm(forms.ModelForm):
    """The BPHS follow-up form: the symptoms as ticks."""

    symptom_choices = forms.MultipleChoiceField(
        label=_("symptoms"),
        choices=FollowUp.Symptom.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = FollowUp
        fields = (
            "patient",
            "institution",
            "date",
            "mode",
            "fbg",
            "hba1c",
            "systolic",
            "diastolic",
            "weight_kg",
            "height_cm",
            "medication_adherence",
            "outcome",
            "next_date",
            "is_referred",
            "referral_to",
            "referral_reason",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["symptom_choices"].initial = self.instance.symptom_codes

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["symptoms"] = list(cleaned.get("symptom_choices") or [])
        return cleaned


def _staff(institution_ids: QuerySet[Any] | list[int], role: str) -> QuerySet[Any]:
    users = StaffRole.objects.filter(role=role, institution_id__in=institution_ids)
    return (
        get_user_model()
        ._default_manager.filter(pk__in=users.values("user_id"))
        .order_by("username")
    )


class TransferForm(forms.Form):
    to_institution = forms.ModelChoiceField(
        label=_("receiving institution"), queryset=Institution.objects.none()
    )
    transfer_on = forms.DateField(
        label=_("transfer date"),
        help_text=_("The first day at the receiving institution."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    responsible_doctor = forms.ModelChoiceField(
        label=_("responsible doctor"), queryset=get_user_model().objects.none(), required=False
    )
    health_manager = forms.ModelChoiceField(
        label=_("health manager"), queryset=get_user_model().objects.none(), required=False
    )
    reason = forms.CharField(label=_("reason"), max_length=150, required=False)

    def __init__(self, *args: Any, institutions: QuerySet[Institution], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_institution"].queryset = institutions.order_by(  # type: ignore[attr-defined]
            "-is_chronic_care_centre", "code"
        )
        ids = list(institutions.values_list("pk", flat=True))
        self.fields["responsible_doctor"].queryset = _staff(  # type: ignore[attr-defined]
            ids, StaffRole.Role.DOCTOR
        )
        self.fields["health_manager"].queryset = _staff(  # type: ignore[attr-defined]
            ids, StaffRole.Role.HEALTH_MANAGER
        )


class EndForm(forms.Form):
    ended_on = forms.DateField(
        label=_("last day"),
        help_text=_("The last day the enrolment covers."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = forms.ChoiceField(label=_("reason"), choices=EndReason.choices)
    note = forms.CharField(label=_("note"), max_length=150, required=False)


class WorklistChoiceForm(forms.Form):
    institution = forms.ModelChoiceField(
        label=_("institution"), queryset=Institution.objects.none(), required=False
    )
    worklist = forms.ChoiceField(
        label=_("worklist"),
        choices=[(worklist.value, worklist.label) for worklist in Worklist],
        required=False,
    )

    def __init__(self, *args: Any, institutions: QuerySet[Institution], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = institutions  # type: ignore[attr-defined]

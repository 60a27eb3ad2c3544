"""The admin's prescription form: a doctor writes a prescription through the same service as
the API (:func:`cloud_pharmacy.services.write_prescription`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cloud_management.models import Institution
from cloud_pharmacy.models import Drug, Prescription, PrescriptionLine


class PrescriptionForm(forms.Form):
    institution: forms.ModelChoiceField[Institution] = forms.ModelChoiceField(
        queryset=Institution.objects.none(), label=_("writing institution")
    )
    resident_id = forms.CharField(label=_("resident ID"), max_length=18)
    diagnosis_codes = forms.CharField(
        label=_("diagnoses (ICD-10)"),
        max_length=200,
        help_text=_("Semicolon-separated, e.g. E11.9;I10."),
    )
    fulfilment = forms.ChoiceField(
        label=_("fulfilment"), choices=Prescription.Fulfilment.choices, initial="on_site"
    )
    dispensing_institution = forms.CharField(
        label=_("dispensing institution code"),
        max_length=20,
        required=False,
        help_text=_("Only when another institution dispenses."),
    )
    delivery_address = forms.CharField(label=_("delivery address"), max_length=200, required=False)
    is_long = forms.BooleanField(label=_("long prescription (up to 12 weeks)"), required=False)
    extended_reason = forms.CharField(
        label=_("reason for more than 7 days"), max_length=200, required=False
    )
    is_pregnant = forms.BooleanField(label=_("pregnant"), required=False)

    def __init__(self, *args: Any, institutions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["institution"]
        if isinstance(field, forms.ModelChoiceField):
            field.queryset = institutions


class LineForm(forms.Form):
    drug = forms.ModelChoiceField(
        queryset=Drug.objects.filter(is_active=True).order_by("generic_name"),
        label=_("drug"),
        required=False,
    )
    dose = forms.DecimalField(label=_("dose"), max_digits=10, decimal_places=3, required=False)
    frequency = forms.ChoiceField(
        label=_("frequency"), choices=PrescriptionLine.Frequency.choices, required=False
    )
    route = forms.ChoiceField(
        label=_("route"), choices=PrescriptionLine.Route.choices, required=False
    )
    days = forms.IntegerField(label=_("days"), min_value=1, required=False)
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("drug") is None:
            return cleaned
        for name in ("dose", "frequency", "days", "quantity", "route"):
            if cleaned.get(name) in (None, ""):
                self.add_error(name, _("Required for a line with a drug."))
        return cleaned


LineFormSet = forms.formset_factory(LineForm, extra=5, max_num=10)

"""Forms of the home-service patient pages: registration and the booking's last screen."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cloud_management.identifiers import normalize_resident_id
from cloud_management.models import Patient

_SEPARATORS = re.compile(r"[\s\-]")


class RegisterForm(forms.Form):
    """A registered resident creates their login: resident ID, name and phone must match the
    registry (the phone becomes the user name, CONTRACTS §2)."""

    resident_id = forms.CharField(
        label=_("Resident ID number"),
        help_text=_("The 18 characters on your resident identity card."),
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    name = forms.CharField(
        label=_("Name"), max_length=50, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    phone = forms.CharField(
        label=_("Mobile phone number"),
        help_text=_("The number your community health centre has on record."),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    password = forms.CharField(
        label=_("Password"),
        help_text=_("At least 8 characters; not only digits."),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient: Patient | None = None
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"id_{name}_helptext"

    def clean_resident_id(self) -> str:
        return normalize_resident_id(self.cleaned_data["resident_id"])

    def clean_phone(self) -> str:
        return _SEPARATORS.sub("", self.cleaned_data["phone"])

    def clean_name(self) -> str:
        return "".join(self.cleaned_data["name"].split())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password, again = cleaned.get("password"), cleaned.get("password_again")
        if password and again and password != again:
            self.add_error("password_again", _("The two passwords are not the same."))
        resident_id, name, phone = (cleaned.get(k) for k in ("resident_id", "name", "phone"))
        if resident_id and name and phone:
            patient = (
                Patient.objects.filter(resident_id=resident_id, name=name, phone=phone)
                .select_related("user")
                .first()
            )
            if patient is None:
                # One message for every mismatch: the form never reveals which of the three
                # is on record.
                raise ValidationError(
                    _(
                        "The resident ID, name and phone number do not match our records. "
                        "Please check them, or ask your community health centre."
                    )
                )
            if patient.user_id is not None:
                raise ValidationError(
                    _("You already have a login. Log in with your mobile phone number.")
                )
            self.patient = patient
            if password:
                try:
                    validate_password(password)
                except ValidationError as exc:
                    self.add_error("password", exc)
        return cleaned


class BookingDetailsForm(forms.Form):
    """The last screen: where the nurse comes and how to reach the patient."""

    address = forms.CharField(
        label=_("Address for the visit"),
        help_text=_("Street, building, unit and flat number."),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone number"),
        help_text=_("The nurse calls this number; text messages about the visit go to it."),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    notes = forms.CharField(
        label=_("Anything the nurse should know (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"id_{name}_helptext"

    def clean_phone(self) -> str:
        return _SEPARATORS.sub("", self.cleaned_data["phone"])

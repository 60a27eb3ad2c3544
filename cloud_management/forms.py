"""Forms of the patient pages."""

import re
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

# A phone number typed with spaces or dashes ("139 0000 0001") still logs in.
_PHONE_WITH_SEPARATORS = re.compile(r"^[\d\s\-]+$")


class LoginForm(AuthenticationForm):
    """Log in with the phone number (patients) or the user name (staff)."""

    username = forms.CharField(
        label=_("Mobile phone number"),
        help_text=_("Staff and regulators: enter your user name."),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid_login": _(
            "The phone number (or user name) and password do not match. Please check both and "
            "try again."
        ),
        "inactive": _("This account is not active. Please ask your community health centre."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Describe each field by its help text, for screen readers.
        self.fields["username"].widget.attrs["aria-describedby"] = "id_username_helptext"

    def clean_username(self) -> str:
        username: str = self.cleaned_data.get("username", "").strip()
        if _PHONE_WITH_SEPARATORS.match(username):
            username = re.sub(r"[\s\-]", "", username)
        return username

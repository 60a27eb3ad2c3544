"""Links that higher apps add to the patient's record page (``/me/``).

``cloud_management`` owns the page but cannot import the apps above it (DESIGN.md "Who may
import whom"), so an app with a patient page of its own (cloud_exams' results, say) registers
a link from its ``AppConfig.ready()``::

    from cloud_management.patient_pages import register_patient_link
    register_patient_link(
        key="cloud_exams.results", label=_("My exam results"), url_name="cloud_exams:my_results"
    )

Registration is idempotent (``ready()`` may run twice); another link under a key already taken
is a configuration error. The record page lists the links in registration order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise

_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_URL_NAME = re.compile(r"^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class PatientLink:
    """A link on the record page: ``url_name`` is a namespaced URL name taking no arguments."""

    key: str
    label: str | Promise
    url_name: str
    description: str | Promise = ""


_LINKS: dict[str, PatientLink] = {}


def register_patient_link(
    *, key: str, label: str | Promise, url_name: str, description: str | Promise = ""
) -> PatientLink:
    if not _KEY.match(key):
        raise ImproperlyConfigured(f"Patient link key {key!r} must look like 'app.name'.")
    if not _URL_NAME.match(url_name):
        raise ImproperlyConfigured(f"Patient link URL name {url_name!r} must be 'namespace:name'.")
    link = PatientLink(key=key, label=label, url_name=url_name, description=description)
    existing = _LINKS.get(key)
    if existing is not None and existing != link:
        raise ImproperlyConfigured(f"The patient link {key!r} is already registered.")
    _LINKS[key] = link
    return link


def unregister_patient_link(key: str) -> None:
    _LINKS.pop(key, None)


def patient_links() -> list[PatientLink]:
    return list(_LINKS.values())


# --- Sign-up ------------------------------------------------------------------------------------
# The page where a registered resident creates their own login (cloud_services owns it). The
# welcome and login pages link to it while settings.PATIENT_SELF_REGISTRATION is on.

_SIGNUP: dict[str, PatientLink] = {}


def register_signup_page(*, url_name: str, label: str | Promise) -> PatientLink:
    if not _URL_NAME.match(url_name):
        raise ImproperlyConfigured(f"Sign-up URL name {url_name!r} must be 'namespace:name'.")
    link = PatientLink(key="signup.page", label=label, url_name=url_name)
    existing = _SIGNUP.get("page")
    if existing is not None and existing != link:
        raise ImproperlyConfigured("A sign-up page is already registered.")
    _SIGNUP["page"] = link
    return link


def signup_page() -> PatientLink | None:
    """The registered sign-up page, or ``None`` when patients may not sign up themselves."""
    from django.conf import settings

    if not settings.PATIENT_SELF_REGISTRATION:
        return None
    return _SIGNUP.get("page")

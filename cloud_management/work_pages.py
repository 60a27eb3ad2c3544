"""Pages of higher apps that the start page and the dashboards link to, for staff and regulators.

Like :mod:`cloud_management.patient_pages` for the patient's record: ``cloud_management`` owns
the start page (``/``) and operations monitoring (``/dashboards/``) but cannot import the apps
above it, so an app with a dashboard or a work page registers a link from its
``AppConfig.ready()``::

    from cloud_management.work_pages import Audience, register_work_link
    register_work_link(
        key="payments.settlements",
        label=_("Settlements"),
        url_name="settlements:index",
        audience=Audience.DASHBOARDS,
    )

``Audience.DASHBOARDS`` pages serve everyone who may open operations monitoring (regulators
see their district or the city, staff their own institution); ``Audience.STAFF`` pages serve
the staff of an institution (and operators) only. Registration is idempotent; another link
under a key already taken is a configuration error. Links keep their registration order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise

_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_URL_NAME = re.compile(r"^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$")


class Audience(StrEnum):
    DASHBOARDS = "dashboards"
    STAFF = "staff"


@dataclass(frozen=True)
class WorkLink:
    """A link to a page: ``url_name`` is a namespaced URL name taking no arguments."""

    key: str
    label: str | Promise
    url_name: str
    audience: Audience
    description: str | Promise = ""


_LINKS: dict[str, WorkLink] = {}


def register_work_link(
    *,
    key: str,
    label: str | Promise,
    url_name: str,
    audience: Audience,
    description: str | Promise = "",
) -> WorkLink:
    if not _KEY.match(key):
        raise ImproperlyConfigured(f"Work link key {key!r} must look like 'app.name'.")
    if not _URL_NAME.match(url_name):
        raise ImproperlyConfigured(f"Work link URL name {url_name!r} must be 'namespace:name'.")
    link = WorkLink(
        key=key, label=label, url_name=url_name, audience=audience, description=description
    )
    existing = _LINKS.get(key)
    if existing is not None and existing != link:
        raise ImproperlyConfigured(f"The work link {key!r} is already registered.")
    _LINKS[key] = link
    return link


def unregister_work_link(key: str) -> None:
    _LINKS.pop(key, None)


def work_links(audience: Audience) -> list[WorkLink]:
    return [link for link in _LINKS.values() if link.audience is audience]

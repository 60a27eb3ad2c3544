"""The staff admin's side of the one scoping mechanism (:mod:`cloud_management.access`).

:class:`ScopedModelAdmin` takes every queryset through ``visible_to``, derives its permissions
from the user's StaffRoles (``scope_of``) instead of Django's per-model permissions, answers 404
for another scope's object, and saves through the registry's services, showing a service's
``ValidationError`` on the form. The list filters here offer only the districts and
institutions the user may see.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from cloud_management.access import may_edit, scope_of, scope_rule_for, visible_to
from cloud_management.admin_paginator import LargeTablePaginator
from cloud_management.identifiers import normalize_resident_id
from cloud_management.models import District, Institution

_SERVICE_ERRORS_ATTRIBUTE = "_registry_service_errors"
_RESIDENT_ID_TERM = re.compile(r"^\d{17}[\dXx]$")
_PHONE_TERM = re.compile(r"^\+?\d[\d-]{5,19}$")


class ServiceRejectedError(Exception):
    """A service refused the admin's save; carries its ValidationError to the second pass."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(str(error))
        self.error = error


def _error_dict(error: ValidationError) -> dict[str | None, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: list(messages) for field, messages in error.message_dict.items()}
    return {None: list(error.messages)}


def adopt(target: models.Model, saved: models.Model) -> None:
    """Make the admin's form instance the row a service saved (the admin logs and redirects
    using the instance it passed to ``save_model``)."""
    target.__dict__.update(saved.__dict__)


def resident_search_q(term: str, prefix: str = "") -> Q:
    """A resident by resident ID (exact), phone (exact) or name (beginning); each has an index."""
    term = term.strip()
    if _RESIDENT_ID_TERM.match(term):
        return Q(**{f"{prefix}resident_id": normalize_resident_id(term)})
    if _PHONE_TERM.match(term):
        return Q(**{f"{prefix}phone": term})
    return Q(**{f"{prefix}name__startswith": term})


class ScopedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows, permissions and writes all follow the user's scope.

    ``write_access`` says who may add and change: ``"editors"`` (registry editors at an
    institution, through the services, and operators) or ``"operators"`` (platform operators
    only). Deleting is for operators only: staff end contracts and enrolments instead.
    """

    write_access: ClassVar[str] = "editors"
    paginator = LargeTablePaginator
    show_full_result_count = False
    # Facet counts would COUNT the big tables once per filter choice.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50

    # --- Rows ------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return visible_to(request.user, super().get_queryset(request))

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any | None:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Another scope's row and a missing row look the same (CONTRACTS §3).
            raise Http404(_("There is no such record."))
        return obj

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        related = db_field.remote_field.model
        try:
            scope_rule_for(related)
        except LookupError:
            pass
        else:
            # Submitted values are validated against the user's scope, not the whole table.
            kwargs.setdefault("queryset", visible_to(request.user, related._default_manager.all()))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- Permissions from StaffRole, not from Django's per-model permissions ---------------

    def has_module_permission(self, request: HttpRequest) -> bool:
        return scope_of(request.user).may_use_admin

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return scope_of(request.user).may_use_admin

    def has_add_permission(self, request: HttpRequest) -> bool:
        scope = scope_of(request.user)
        if self.write_access == "operators":
            return scope.is_operator
        return scope.may_write

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        scope = scope_of(request.user)
        if self.write_access == "operators":
            return scope.is_operator
        if obj is None:
            return scope.may_write
        return may_edit(request.user, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return scope_of(request.user).is_operator

    # --- Saving through the services -------------------------------------------------------

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool
    ) -> Any:
        """Call the service that makes this change and return the saved row. Admins whose
        ``write_access`` is ``"operators"`` keep Django's plain save."""
        obj.save()
        return obj

    def save_model(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool
    ) -> None:
        try:
            saved = self.save_with_service(request, obj, form, change)
        except ValidationError as exc:
            raise ServiceRejectedError(exc) from exc
        if saved is not obj:
            adopt(obj, saved)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRejectedError as rejected:
            # The failed attempt's transaction has rolled back. Render the form again with
            # the service's errors on it, the way a form's own validation errors appear.
            setattr(request, _SERVICE_ERRORS_ATTRIBUTE, _error_dict(rejected.error))
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self,
        request: HttpRequest,
        obj: Any | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Any]]:
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            _keep_current_choices(form_class, obj)
        pending: dict[str | None, list[str]] | None = getattr(
            request, _SERVICE_ERRORS_ATTRIBUTE, None
        )
        if not pending:
            return form_class
        errors = pending

        class ServiceErrorForm(form_class):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                cleaned: dict[str, Any] = super().clean()
                for field, messages in errors.items():
                    self.add_error(field if field in self.fields else None, messages)
                return cleaned

        return ServiceErrorForm


def _keep_current_choices(form_class: type[forms.ModelForm[Any]], obj: models.Model) -> None:
    """A scoped choice field still accepts the row's current value: a resident registered
    elsewhere but under contract here keeps their home institution when staff here edit them."""
    for name, field in form_class.base_fields.items():
        if not isinstance(field, forms.ModelChoiceField):
            continue
        current = getattr(obj, f"{name}_id", None)
        queryset = field.queryset
        if current is None or queryset is None:
            continue
        field.queryset = queryset.model._default_manager.filter(
            Q(pk__in=queryset.values("pk")) | Q(pk=current)
        )


# --- List filters whose choices are the user's own districts and institutions -------------


class _ScopedRelatedFilter(admin.SimpleListFilter):
    related_model: ClassVar[type[District] | type[Institution]]
    field_path: ClassVar[str]

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> Sequence[tuple[str, str]]:
        rows = visible_to(request.user, self.related_model._default_manager.all()).order_by("code")
        return [(str(row.pk), str(row)) for row in rows]

    def queryset(
        self, request: HttpRequest, queryset: models.QuerySet[Any]
    ) -> models.QuerySet[Any] | None:
        value = self.value()
        if value is None:
            return queryset
        if not str(value).isdigit():
            return queryset.none()
        return queryset.filter(**{self.field_path: int(str(value))})


def district_filter(field_path: str) -> type[admin.SimpleListFilter]:
    """A filter by district (``field_path`` leads to the district's id)."""
    return type(
        "DistrictFilter",
        (_ScopedRelatedFilter,),
        {
            "title": _("district"),
            "parameter_name": "district",
            "related_model": District,
            "field_path": field_path,
        },
    )


def institution_filter(field_path: str, title: Any = None) -> type[admin.SimpleListFilter]:
    """A filter by institution (``field_path`` leads to the institution's id)."""
    return type(
        "InstitutionFilter",
        (_ScopedRelatedFilter,),
        {
            "title": title or _("institution"),
            "parameter_name": "institution",
            "related_model": Institution,
            "field_path": field_path,
        },
    )


def institution_kind_filter(field_path: str) -> type[admin.SimpleListFilter]:
    """A filter by institution kind (``field_path`` leads to ``Institution.kind``)."""

    def lookups(
        self: admin.SimpleListFilter, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> Sequence[tuple[str, Any]]:
        return list(Institution.Kind.choices)

    def queryset(
        self: admin.SimpleListFilter, request: HttpRequest, queryset: models.QuerySet[Any]
    ) -> models.QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(**{field_path: value})

    return type(
        "InstitutionKindFilter",
        (admin.SimpleListFilter,),
        {
            "title": _("institution kind"),
            "parameter_name": "kind",
            "lookups": lookups,
            "queryset": queryset,
        },
    )

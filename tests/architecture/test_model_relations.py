"""Foreign keys point only to the same app or a lower one (DESIGN.md "Who may import whom").

import-linter checks imports, but a string foreign key (``"payments.ClaimLine"``) is an upward
dependency no import shows, so this walks every installed model instead. The layers are read
from the import-linter contract in pyproject.toml: one source of truth for both checks.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey

PYPROJECT = Path(settings.BASE_DIR) / "pyproject.toml"


def load_layers() -> list[set[str]]:
    """The import-linter layers, top first; ``a | b`` is a layer of independent siblings."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [{name.strip() for name in layer.split("|")} for layer in contract["layers"]]


LAYERS = load_layers()
# Higher number = higher layer; the bottom layer (cloud_management) is 0.
RANK = {app: len(LAYERS) - 1 - index for index, layer in enumerate(LAYERS) for app in layer}


@dataclass(frozen=True)
class Relation:
    source_app: str
    field: str
    target_app: str


def is_allowed(relation: Relation) -> bool:
    """Same app, or a lower layer, or outside the project (Django and libraries)."""
    if relation.source_app == relation.target_app or relation.target_app not in RANK:
        return True
    return RANK[relation.target_app] < RANK[relation.source_app]


def project_relations() -> list[Relation]:
    """Every forward relation declared on a model of the project's own apps."""
    relations = []
    for model in apps.get_models(include_auto_created=True):
        source_app = model._meta.app_label
        if source_app not in RANK:
            continue
        for field in model._meta.get_fields(include_hidden=True):
            if not field.is_relation or field.auto_created or field.related_model is None:
                continue
            relations.append(
                Relation(
                    source_app=source_app,
                    field=f"{model._meta.label}.{field.name}",
                    target_app=field.related_model._meta.app_label,
                )
            )
    return relations


def test_every_project_app_has_a_layer() -> None:
    repo = Path(settings.BASE_DIR).resolve()
    ours = {
        config.label
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == repo
    }
    assert ours == set(RANK)


def test_walk_finds_the_registry_relations() -> None:
    relations = project_relations()
    assert (
        Relation("cloud_management", "cloud_management.Institution.district", "cloud_management")
        in relations
    )
    assert Relation("cloud_management", "cloud_management.StaffRole.user", "auth") in relations


def test_no_model_relation_points_upward_or_sideways() -> None:
    upward = [r for r in project_relations() if not is_allowed(r)]
    assert upward == []


def test_no_generic_foreign_keys() -> None:
    # Upward references are stored by value (source + source_ref), never generically.
    generic = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        if model._meta.app_label in RANK
        for field in model._meta.private_fields
        if isinstance(field, GenericForeignKey)
    ]
    assert generic == []


@pytest.mark.parametrize(
    ("relation", "allowed"),
    [
        (Relation("payments", "payments.X.patient", "cloud_management"), True),
        (Relation("cloud_pharmacy", "cloud_pharmacy.X.enrolment", "chronic_care"), True),
        (Relation("chronic_care", "chronic_care.X.order", "cloud_exams"), True),
        (Relation("cloud_exams", "cloud_exams.X.user", "auth"), True),
        (Relation("payments", "payments.X.other", "payments"), True),
        (Relation("cloud_management", "cloud_management.X.claim", "payments"), False),
        (Relation("payments", "payments.X.order", "cloud_exams"), False),
        (Relation("chronic_care", "chronic_care.X.booking", "cloud_services"), False),
        (Relation("cloud_services", "cloud_services.X.follow_up", "chronic_care"), False),
        (Relation("cloud_exams", "cloud_exams.X.prescription", "cloud_pharmacy"), False),
    ],
)
def test_the_rule_itself(relation: Relation, allowed: bool) -> None:
    assert is_allowed(relation) is allowed

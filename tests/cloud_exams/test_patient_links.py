"""The record page's link registry (cloud_management.patient_pages) as cloud_exams uses it."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from cloud_management.patient_pages import (
    patient_links,
    register_patient_link,
    unregister_patient_link,
)


def test_cloud_exams_registers_its_results_link_once():
    links = [link for link in patient_links() if link.key == "cloud_exams.results"]
    assert [link.url_name for link in links] == ["cloud_exams:my_results"]
    existing = links[0]
    again = register_patient_link(
        key=existing.key,
        label=existing.label,
        url_name=existing.url_name,
        description=existing.description,
    )
    assert again == existing


def test_a_taken_key_or_a_malformed_name_is_refused():
    with pytest.raises(ImproperlyConfigured):
        register_patient_link(key="cloud_exams.results", label="x", url_name="other:page")
    with pytest.raises(ImproperlyConfigured):
        register_patient_link(key="Bad Key", label="x", url_name="a:b")
    with pytest.raises(ImproperlyConfigured):
        register_patient_link(key="tests.link", label="x", url_name="no-namespace")
    register_patient_link(key="tests.link", label="x", url_name="a:b")
    unregister_patient_link("tests.link")
    assert "tests.link" not in {link.key for link in patient_links()}

"""CONTRACTS §1 CSV files for import tests: rows as dicts, valid resident IDs by default."""

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from cloud_management.identifiers import make_resident_id

INSTITUTION_COLUMNS = ["code", "name", "district_code", "kind", "chronic_care_centre"]
PATIENT_COLUMNS = [
    "resident_id",
    "name",
    "sex",
    "birth_date",
    "phone",
    "district_code",
    "home_institution_code",
    "insurance_type",
    "insurance_number",
    "address",
]
CONTRACT_COLUMNS = ["resident_id", "institution_code", "signed_on", "ended_on"]
ENROLMENT_COLUMNS = [
    "resident_id",
    "institution_code",
    "diabetes_type",
    "diagnosis_code",
    "enrolled_on",
    "ended_on",
    "baseline_fbg",
    "baseline_hba1c",
]


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in columns})
    return buffer.getvalue()


def write_csv(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, object]],
    *,
    encoding: str = "utf-8",
) -> Path:
    path.write_bytes(csv_text(columns, rows).encode(encoding))
    return path


def institution_row(code: str = "NK001", **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "code": code,
        "name": f"{code}社区卫生服务中心",
        "district_code": "120104",
        "kind": "community_centre",
        "chronic_care_centre": "true",
    }
    row.update(overrides)
    return row


def patient_row(
    n: int = 0,
    *,
    district_code: str = "120104",
    institution_code: str = "NK001",
    **overrides: object,
) -> dict[str, object]:
    """The n-th of a series of distinct residents (n < 2,000,000), each with a valid ID."""
    sex = "M" if n % 2 else "F"
    birth_date = dt.date(1940, 1, 1) + dt.timedelta(days=n // 100)
    row: dict[str, object] = {
        "resident_id": make_resident_id(district_code, birth_date, n % 100, sex),
        "name": f"居民{n}",
        "sex": sex,
        "birth_date": birth_date.isoformat(),
        "phone": f"139{n:08d}",
        "district_code": district_code,
        "home_institution_code": institution_code,
        "insurance_type": "employee" if n % 3 else "resident",
        "insurance_number": f"TJ{n:010d}",
        "address": f"天津市南开区长江道{n}号",
    }
    row.update(overrides)
    return row


def contract_row(resident_id: str, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "resident_id": resident_id,
        "institution_code": "NK001",
        "signed_on": "2025-01-01",
        "ended_on": "",
    }
    row.update(overrides)
    return row


def enrolment_row(resident_id: str, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "resident_id": resident_id,
        "institution_code": "NK001",
        "diabetes_type": "T2",
        "diagnosis_code": "E11.9",
        "enrolled_on": "2025-01-01",
        "ended_on": "",
        "baseline_fbg": "8.2",
        "baseline_hba1c": "7.4",
    }
    row.update(overrides)
    return row


def bad_checksum(resident_id: str) -> str:
    """The same ID with a wrong check character."""
    last = resident_id[-1]
    return resident_id[:-1] + ("0" if last != "0" else "1")

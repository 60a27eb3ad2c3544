import datetime as dt
import logging

import pytest

from cloud_management.identifiers import (
    ResidentIdError,
    ResidentIdMaskingFilter,
    birth_date_of,
    make_resident_id,
    mask_resident_id,
    sex_of,
    validate_resident_id,
)


def test_known_valid_id_with_x_check_character_verifies():
    assert validate_resident_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("110105194912310021", "checksum does not verify"),
        ("1101051949123100", "must be 18 characters"),
        ("11010519491231002A", "must be 17 digits and a check character 0-9 or X"),
        ("110105194913310021", "birth date is not a valid date"),
    ],
)
def test_invalid_ids_say_what_is_wrong(value, reason):
    with pytest.raises(ResidentIdError, match=reason):
        validate_resident_id(value)


def test_made_ids_encode_birth_date_and_sex():
    number = make_resident_id("120104", dt.date(1962, 8, 30), 37, "F")
    assert validate_resident_id(number) == number
    assert birth_date_of(number) == dt.date(1962, 8, 30)
    assert sex_of(number) == "F"


def test_mask_keeps_division_code_and_last_two_characters():
    assert mask_resident_id("11010519491231002X") == "110105**********2X"


def test_log_lines_never_carry_a_whole_resident_id():
    record = logging.LogRecord(
        "x", logging.INFO, "f", 1, "bad row for %s", ("11010519491231002X",), None
    )
    ResidentIdMaskingFilter().filter(record)
    assert record.getMessage() == "bad row for 110105**********2X"

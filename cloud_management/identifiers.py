"""The mainland resident identity number (GB 11643): validation and masking, pure functions.

The checksum itself comes from python-stdnum (``stdnum.cn.ric``); this module adds what the
registry needs on top: the birth date and sex the number encodes, and the masked form that every
list, export, API list and log line shows.
"""

import datetime as dt
import logging
import re

from django.utils.translation import gettext_noop
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric

RESIDENT_ID_LENGTH = 18
# Keep the six-digit division code and the last two characters; hide the birth date and serial.
_MASK = "*" * 10
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{10}(\d[0-9Xx])(?![0-9A-Za-z])")


class ResidentIdError(ValueError):
    """A resident ID that fails GB 11643; the message says which part is wrong."""


def normalize_resident_id(value: str) -> str:
    return (value or "").strip().upper()


def validate_resident_id(value: str) -> str:
    """Return the normalised ID, or raise ResidentIdError saying what is wrong."""
    number = normalize_resident_id(value)
    if len(number) != RESIDENT_ID_LENGTH:
        raise ResidentIdError(gettext_noop("must be 18 characters"))
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ResidentIdError(gettext_noop("must be 17 digits and a check character 0-9 or X"))
    # Only the checksum and the birth date are GB 11643's to check; stdnum's validate() also
    # looks the birthplace up in a gazetteer, which rejects renamed divisions and is slow.
    if ric.calc_check_digit(number) != number[17]:
        raise ResidentIdError(gettext_noop("checksum does not verify"))
    try:
        birth_date = ric.get_birth_date(number)
    except stdnum_exceptions.InvalidComponent as exc:
        raise ResidentIdError(gettext_noop("birth date is not a valid date")) from exc
    if birth_date.year < 1880:
        raise ResidentIdError(gettext_noop("birth date is not a valid date"))
    return number


def birth_date_of(resident_id: str) -> dt.date:
    number = normalize_resident_id(resident_id)
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def sex_of(resident_id: str) -> str:
    """``M`` or ``F``: the 17th digit is odd for men (GB 11643 §4.3)."""
    return "M" if int(normalize_resident_id(resident_id)[16]) % 2 else "F"


def check_digit(first_17: str) -> str:
    # stdnum's calc_check_digit expects the whole number and ignores its last character.
    return str(ric.calc_check_digit(first_17 + "0"))


def make_resident_id(division_code: str, birth_date: dt.date, serial: int, sex: str) -> str:
    """Build a valid ID; ``serial`` 0-99 and ``sex`` choose the three-digit order code."""
    sex_digit = (serial * 2 + (1 if sex == "M" else 0)) % 10
    order = f"{serial % 100:02d}{sex_digit}"
    body = f"{division_code}{birth_date:%Y%m%d}{order}"
    return body + check_digit(body)


def mask_resident_id(value: str | None) -> str:
    """``120104199001011234`` → ``120104**********34``; anything else is masked whole."""
    if not value:
        return ""
    number = normalize_resident_id(value)
    if len(number) != RESIDENT_ID_LENGTH:
        return "*" * len(number)
    return f"{number[:6]}{_MASK}{number[-2:]}"


def mask_resident_ids_in_text(text: str) -> str:
    return _RESIDENT_ID_IN_TEXT.sub(lambda m: f"{m.group(1)}{_MASK}{m.group(2).upper()}", text)


class ResidentIdMaskingFilter(logging.Filter):
    """A logging filter that masks any resident ID in a record's rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_resident_ids_in_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True

"""Phone numbers: E.164 checks for configured and operator numbers, display formatting."""

from __future__ import annotations

import functools

import phonenumbers


def validate_e164(number: str) -> str:
    """Return `number` if it is a valid phone number written in E.164, else raise ValueError."""
    if not number.startswith("+"):
        raise ValueError("must start with + and the country code (E.164), e.g. +12762410114")
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"is not a phone number ({error})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("is not a valid phone number")
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if formatted != number:
        raise ValueError(f"must be written in E.164 without spaces: {formatted}")
    return number


@functools.cache  # the central number, formatted for every state message sent
def format_for_people(number: str) -> str:
    """"+12762410114" -> "+1 276-241-0114" (international format); unparseable: as given."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

"""Phone numbers: E.164 checks for configured and operator numbers, display formatting."""

from __future__ import annotations

import functools

import phonenumbers


def validate_e164(number: str) -> str:
    """Return `number` if it is a valid phone number written in E.164, else raise ValueError
    whose words finish "This phone number ..." for a person."""
    example = "for example +12762410114"
    if not number.startswith("+"):
        raise ValueError(f"must start with + and the country code, {example}")
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        # The library's own words ("(0) Could not interpret ...") mean nothing to people.
        raise ValueError("could not be read: write + and the country code, then the number, "
                         f"digits only, {example}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"does not exist in its country's numbering plan; check the digits, "
                         f"{example}")
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if formatted != number:
        raise ValueError(f"must be written without spaces or punctuation: {formatted}")
    return number


@functools.cache  # the central number, formatted for every state message sent
def format_for_people(number: str) -> str:
    """"+12762410114" -> "+1 276-241-0114" (international format); unparseable: as given."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

"""Phone numbers: the service's E.164 normalisation agrees with ``phonenumbers`` on every accepted form."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.callers import e164

SEP = st.sampled_from(["", "", "", " ", "-"])


@st.composite
def indian_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A number as a person might type it, and its 10 national digits."""
    digits = str(draw(st.integers(1, 9))) + "".join(str(draw(st.integers(0, 9))) for _ in range(9))
    prefix = draw(st.sampled_from(["", "+91", "91", "0"]))
    body = digits[0] + "".join(draw(SEP) + d for d in digits[1:])
    return prefix + draw(SEP) + body, digits


@given(indian_numbers())
def test_e164_matches_phonenumbers(case: tuple[str, str]) -> None:
    raw, digits = case
    oracle = phonenumbers.format_number(phonenumbers.parse(raw, "IN"), phonenumbers.PhoneNumberFormat.E164)
    assert e164(raw) == oracle == "+91" + digits


@pytest.mark.parametrize("raw", ["", "12345", "0123456789", "+1 202 555 0143", "98765 43210\n", "98765  43210",
                                 "+91+9876543210", "9876543210x", "٩٨٧٦٥٤٣٢١٠"])
def test_e164_refuses_what_the_api_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match="Indian phone number"):
        e164(raw)

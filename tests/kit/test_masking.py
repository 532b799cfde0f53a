"""Personal data is masked before it reaches a message or a log."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from huancui.kit.masking import mask_email, mask_name, mask_national_id, mask_phone


def test_examples() -> None:
    assert mask_name("王小明") == "王**"
    assert mask_national_id("110101199003070011") == "110***********0011"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_email("wang@example.com") == "w***@example.com"


@given(st.text(alphabet="0123456789X", min_size=8, max_size=18))
def test_masked_ids_hide_the_middle(value: str) -> None:
    masked = mask_national_id(value)
    assert len(masked) == len(value)
    assert masked[3:-4] == "*" * (len(value) - 7)

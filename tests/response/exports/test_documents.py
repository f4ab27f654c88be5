"""STIX ids of exported values are RFC 4122 version-5 UUIDs, as ``uuid.uuid5`` makes."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from steppe.response.exports.documents import _NAMESPACE, uuid5_text


@given(st.text(max_size=200))
def test_uuid5_text_is_uuid5(name: str) -> None:
    made = uuid5_text(name)
    assert made == str(uuid.uuid5(_NAMESPACE, name))
    assert uuid.UUID(made).version == 5

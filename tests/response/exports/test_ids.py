"""The rule writers' fast paths give what the byte-by-byte escaping gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from steppe.response.exports.ids import _msg, content


def _content_by_bytes(value: str) -> str:
    out = []
    for byte in value.encode():
        if byte in b'";\\|:' or byte < 0x20 or byte > 0x7E:
            out.append(f"|{byte:02X}|")
        else:
            out.append(chr(byte))
    return '"' + "".join(out).replace("||", " ") + '"'


def _msg_by_chars(text: str) -> str:
    clean = "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in text[:200])
    for char in '\\";':
        clean = clean.replace(char, "\\" + char)
    return f'"{clean}"'


@given(st.text(max_size=300) | st.from_regex(r"[a-z0-9.\-/?=&%]{0,80}", fullmatch=True))
def test_content_and_msg_escape_as_byte_by_byte(value: str) -> None:
    assert content(value) == _content_by_bytes(value)
    assert _msg(value) == _msg_by_chars(value)


def test_a_value_that_could_end_the_option_is_escaped() -> None:
    assert content('evil";sid:1;|') == '"evil|22 3B|sid|3A|1|3B 7C|"'
    assert content("plain.example") == '"plain.example"'

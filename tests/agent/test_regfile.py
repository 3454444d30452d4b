"""Registry export files: read and written exactly as `reg export` does."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from readyfloor_agent.host import RegistryKey
from readyfloor_agent.regfile import RegFileError, format_reg, parse_reg, write_reg

# What `reg export HKCU\Software\ReadyFloorTest` writes (shown here as text; on disk it is
# UTF-16 LE with a BOM): long binary data wraps after column 77 with ",\" and two spaces.
GOLDEN = (
    "Windows Registry Editor Version 5.00\r\n"
    "\r\n"
    "[HKEY_CURRENT_USER\\Software\\ReadyFloorTest]\r\n"
    '@="default text"\r\n'
    '"Quoted"="say \\"hi\\" to C:\\\\Users"\r\n'
    '"Count"=dword:0000002a\r\n'
    '"Blob"=hex:00,01,02,03,04,05,06,07,08,09,0a,0b,0c,0d,0e,0f,10,11,12,13,14,15,\\\r\n'
    "  16,17,18,19,1a,1b,1c,1d\r\n"
    '"Big"=hex(b):00,10,a5,d4,e8,00,00,00\r\n'
    '"Path"=hex(2):25,00,77,00,69,00,6e,00,64,00,69,00,72,00,25,00,00,00\r\n'
    '"List"=hex(7):61,00,00,00,62,00,63,00,00,00,00,00\r\n'
    '"Nothing"=hex(0):\r\n'
    "\r\n"
    "[HKEY_CURRENT_USER\\Software\\ReadyFloorTest\\Child]\r\n"
    '"Value"="Allow"\r\n'
    "\r\n"
)
GOLDEN_BYTES = codecs.BOM_UTF16_LE + GOLDEN.encode("utf-16-le")
PARENT = "HKEY_CURRENT_USER\\Software\\ReadyFloorTest"


def test_it_reads_every_value_type_of_an_export() -> None:
    keys = parse_reg(GOLDEN_BYTES)

    assert list(keys) == [PARENT, f"{PARENT}\\Child"]
    assert keys[PARENT].values == {
        "": ("REG_SZ", "default text"),
        "Quoted": ("REG_SZ", 'say "hi" to C:\\Users'),
        "Count": ("REG_DWORD", 42),
        "Blob": ("REG_BINARY", bytes(range(30))),
        "Big": ("REG_QWORD", 1_000_000_000_000),
        "Path": ("REG_EXPAND_SZ", "%windir%"),
        "List": ("REG_MULTI_SZ", ["a", "bc"]),
        "Nothing": ("REG_NONE", b""),
    }
    assert keys[PARENT].subkeys == ["Child"]
    assert keys[f"{PARENT}\\Child"].get("value") == "Allow"


def test_it_writes_byte_for_byte_what_reg_export_writes() -> None:
    assert write_reg(parse_reg(GOLDEN_BYTES).values()) == GOLDEN_BYTES


def test_it_reads_regedit4_and_utf8_exports() -> None:
    text = (
        "REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome]\r\n"
        '"AudioCaptureAllowed"=dword:00000000\r\n'
    )

    keys = parse_reg(text.encode("utf-8"))

    assert keys["HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome"].get("AudioCaptureAllowed") == 0


def test_short_root_names_are_written_in_full() -> None:
    text = format_reg([RegistryKey("HKLM\\SOFTWARE\\X", {"Value": ("REG_SZ", "Deny")})])

    assert "[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n" in text


@pytest.mark.parametrize(
    ("damage", "text"),
    [
        ("no header", '[HKEY_CURRENT_USER\\X]\r\n"A"="b"\r\n'),
        ("value before any key", 'Windows Registry Editor Version 5.00\r\n\r\n"A"="b"\r\n'),
        (
            "unterminated string",
            'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n"A"="b\r\n',
        ),
        (
            "hex cut after a comma",
            'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n"A"=hex:01,\r\n',
        ),
        (
            "continuation past the end",
            'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n"A"=hex:01,\\',
        ),
        (
            "short qword",
            'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n"A"=hex(b):01,02\r\n',
        ),
        ("unknown root", "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_NOWHERE\\X]\r\n"),
        ("garbage line", "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\nhello\r\n"),
        (
            "unknown data",
            'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n"A"=word:1\r\n',
        ),
        ("empty", ""),
    ],
)
def test_a_damaged_export_is_an_error_naming_what_is_wrong(damage: str, text: str) -> None:
    with pytest.raises(RegFileError) as raised:
        parse_reg(text.encode("utf-8"))

    assert raised.value.reason


def test_an_export_cut_short_mid_line_is_an_error_not_a_smaller_registry() -> None:
    # dword:0000 would still parse; the missing final line break gives the truncation away.
    cut = GOLDEN_BYTES[: GOLDEN_BYTES.index("dword:0000".encode("utf-16-le")) + 20]

    with pytest.raises(RegFileError, match="truncated"):
        parse_reg(cut)


def test_an_odd_number_of_utf16_bytes_is_an_error() -> None:
    with pytest.raises(RegFileError, match="odd"):
        parse_reg(GOLDEN_BYTES[:-1])


# --- properties --------------------------------------------------------------------------------

_SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\[]"),
    min_size=1,
    max_size=12,
).filter(lambda text: text.strip() == text and not text.startswith("-"))
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=40)
_VALUE = st.one_of(
    st.tuples(st.just("REG_SZ"), _TEXT),
    st.tuples(st.just("REG_EXPAND_SZ"), _TEXT),
    st.tuples(st.just("REG_DWORD"), st.integers(0, 0xFFFFFFFF)),
    st.tuples(st.just("REG_QWORD"), st.integers(0, 0xFFFFFFFFFFFFFFFF)),
    st.tuples(st.just("REG_BINARY"), st.binary(max_size=120)),
    st.tuples(st.just("REG_MULTI_SZ"), st.lists(_TEXT.filter(bool), max_size=4)),
)
_NAME = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@st.composite
def _keys(draw: st.DrawFn) -> list[RegistryKey]:
    paths = draw(
        st.lists(st.lists(_SEGMENT, min_size=1, max_size=3), min_size=1, max_size=4, unique_by=tuple)
    )
    keys = []
    for segments in paths:
        path = "\\".join(["HKEY_LOCAL_MACHINE", "SOFTWARE", *segments])
        if any(key.path.lower() == path.lower() for key in keys):
            continue
        keys.append(RegistryKey(path, draw(st.dictionaries(_NAME, _VALUE, max_size=5))))
    return keys


@settings(max_examples=200, deadline=None)
@given(_keys())
def test_what_is_written_reads_back_the_same(keys: list[RegistryKey]) -> None:
    parsed = parse_reg(write_reg(keys))

    assert {path: key.values for path, key in parsed.items()} == {key.path: key.values for key in keys}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_anything_but_a_reg_file_error(data: bytes) -> None:
    for candidate in (data, codecs.BOM_UTF16_LE + data, b"Windows Registry Editor Version 5.00\r\n" + data):
        try:
            keys = parse_reg(candidate)
        except RegFileError as error:
            assert error.reason
        else:
            assert all(isinstance(key, RegistryKey) for key in keys.values())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_after_the_header_never_crashes_the_parser(text: str) -> None:
    try:
        keys = parse_reg("Windows Registry Editor Version 5.00\r\n\r\n" + text)
    except RegFileError:
        return
    assert all(isinstance(key, RegistryKey) for key in keys.values())


def test_a_string_holding_line_breaks_reads_across_lines() -> None:
    text = (
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\X]\r\n"
        '"Note"="first line\r\nsecond line"\r\n"After"=dword:00000001\r\n'
    )

    key = parse_reg(text.encode("utf-8"))["HKEY_CURRENT_USER\\X"]

    assert (key.get("Note"), key.get("After")) == ("first line\nsecond line", 1)

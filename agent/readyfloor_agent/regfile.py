"""Registry export files (``.reg``), read and written the way ``reg export`` / regedit do.

A support bundle carries Windows registry keys as the exact text ``reg export`` produces, so
support staff can add keys by hand from a user's machine and the agent can read them back:

    Windows Registry Editor Version 5.00          (UTF-16 LE with a BOM, CRLF line ends)

    [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome]
    "AudioCaptureAllowed"=dword:00000000
    "Name"="text with \\"quotes\\" and \\\\ backslashes"
    "Blob"=hex:01,02,\\
      03                                            (long hex data wraps at 80 columns)
    "Qword"=hex(b):00,00,00,00,00,00,00,00
    "Multi"=hex(7):61,00,00,00,00,00               (REG_MULTI_SZ as UTF-16 LE bytes)

``parse_reg`` is strict: anything that is not export syntax raises :class:`RegFileError` naming
the line, so a damaged export is reported as damaged instead of silently reading as "absent".
"""

from __future__ import annotations

import codecs
import re
import struct
from collections.abc import Iterable
from typing import Any

from .host import ReadError, RegistryKey, canonical_key, reg_type_name, reg_type_number

HEADER_V5 = "Windows Registry Editor Version 5.00"
HEADER_V4 = "REGEDIT4"
# regedit breaks hex data so that no line passes 80 columns (Wine's MAX_HEX_CHARS is 77).
_MAX_HEX_CHARS = 77

_DWORD = re.compile(r"dword:([0-9a-fA-F]{1,8})\s*$")
_BYTE = re.compile(r"[0-9a-f]{1,2}")
_HEX = re.compile(r"hex(?:\(([0-9a-fA-F]{1,8})\))?:(.*)$", re.DOTALL)


class RegFileError(ReadError):
    """The text is not a registry export. ``line`` is 1-based (0: the file as a whole)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def decode_reg(data: bytes) -> str:
    """Text of an export: UTF-16 LE with BOM (``reg export``), or UTF-8 / ANSI for REGEDIT4."""
    if data.startswith(codecs.BOM_UTF16_LE):
        body = data[len(codecs.BOM_UTF16_LE) :]
        if len(body) % 2:
            raise RegFileError("UTF-16 text has an odd number of bytes (truncated)")
        try:
            return body.decode("utf-16-le", errors="surrogatepass")
        except UnicodeDecodeError as error:
            raise RegFileError(f"not valid UTF-16 text: {error.reason}") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # REGEDIT4 files are written in the machine's ANSI code page.
        return data.decode("cp1252", errors="replace")


def parse_reg(data: bytes | str) -> dict[str, RegistryKey]:
    """Keys of an export, in file order, keyed by their canonical path (``HKEY_...\\...``)."""
    text = decode_reg(data) if isinstance(data, (bytes, bytearray)) else data
    # `reg export` always ends its file with a line break; a copy cut short does not.
    machine_written = isinstance(data, (bytes, bytearray)) and data.startswith(codecs.BOM_UTF16_LE)
    if machine_written and text.strip() and not text.endswith(("\n", "\r")):
        raise RegFileError("the export ends in the middle of a line (truncated)")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    keys: dict[str, RegistryKey] = {}
    number = 0
    # Skip leading blank lines to the version header.
    while number < len(lines) and not lines[number].strip():
        number += 1
    if number >= len(lines):
        raise RegFileError("empty file: no registry export header")
    header = lines[number].strip().lstrip("\ufeff")
    if header not in (HEADER_V5, HEADER_V4):
        raise RegFileError(f"not a registry export (first line is {header[:60]!r})", number + 1)
    unicode_strings = header == HEADER_V5
    number += 1
    current: RegistryKey | None = None
    deleted = False
    while number < len(lines):
        start = number + 1
        line = lines[number]
        number += 1
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]"):
                raise RegFileError("key line without a closing ']'", start)
            name = stripped[1:-1]
            deleted = name.startswith("-")
            if deleted:
                current = None
                continue
            try:
                path = canonical_key(name)
            except ValueError as error:
                raise RegFileError(str(error), start) from None
            current = keys.setdefault(path, RegistryKey(path=path))
            continue
        # Hex data continues on following lines after a trailing backslash.
        while stripped.endswith("\\") and _is_hex_value(stripped):
            if number >= len(lines):
                raise RegFileError("hex data continues past the end of the file (truncated)", start)
            stripped = stripped[:-1] + lines[number].strip()
            number += 1
        # regedit writes a string holding line breaks as is, across several lines.
        while number < len(lines) and _is_open_string(stripped):
            stripped = f"{stripped}\n{lines[number].rstrip()}"
            number += 1
        value_name, data_text = _split_value(stripped, start)
        if deleted:
            continue
        if current is None:
            raise RegFileError("a value before any [key] line", start)
        if data_text == "-":
            current.values.pop(value_name, None)
            continue
        current.values[value_name] = _parse_data(data_text, start, unicode_strings)
    _link_subkeys(keys)
    return keys


def _is_hex_value(line: str) -> bool:
    equals = _value_separator(line)
    return equals is not None and line[equals + 1 :].lstrip().lower().startswith("hex")


def _is_open_string(line: str) -> bool:
    equals = _value_separator(line)
    if equals is None:
        return False
    data = line[equals + 1 :].lstrip()
    return data.startswith('"') and _string_end(data, 0) is None


def _value_separator(line: str) -> int | None:
    """Index of the '=' after the value name (quoted name or '@')."""
    if line.startswith("@"):
        rest = line[1:].lstrip()
        return len(line) - len(rest) if rest.startswith("=") else None
    if not line.startswith('"'):
        return None
    end = _string_end(line, 0)
    if end is None:
        return None
    rest_start = end + 1
    while rest_start < len(line) and line[rest_start] in " \t":
        rest_start += 1
    return rest_start if rest_start < len(line) and line[rest_start] == "=" else None


def _string_end(line: str, start: int) -> int | None:
    """Index of the closing quote of the string opening at ``start``."""
    position = start + 1
    while position < len(line):
        char = line[position]
        if char == "\\":
            position += 2
            continue
        if char == '"':
            return position
        position += 1
    return None


def _unescape(body: str) -> str:
    out: list[str] = []
    position = 0
    while position < len(body):
        char = body[position]
        if char == "\\" and position + 1 < len(body):
            following = body[position + 1]
            out.append({"n": "\n", "r": "\r", "0": "\0"}.get(following, following))
            position += 2
            continue
        out.append(char)
        position += 1
    return "".join(out)


def _split_value(line: str, number: int) -> tuple[str, str]:
    if line.startswith("@"):
        equals = _value_separator(line)
        if equals is None:
            raise RegFileError("'@' without '='", number)
        return "", line[equals + 1 :].strip()
    if not line.startswith('"'):
        raise RegFileError(f"not a key, value or comment: {line[:60]!r}", number)
    end = _string_end(line, 0)
    if end is None:
        raise RegFileError("value name without a closing quote", number)
    equals = _value_separator(line)
    if equals is None:
        raise RegFileError("value name not followed by '='", number)
    return _unescape(line[1:end]), line[equals + 1 :].strip()


def _parse_data(text: str, number: int, unicode_strings: bool) -> tuple[str, Any]:
    if text.startswith('"'):
        end = _string_end(text, 0)
        if end is None:
            raise RegFileError("string value without a closing quote (truncated?)", number)
        if text[end + 1 :].strip():
            raise RegFileError("text after the closing quote of a string value", number)
        return "REG_SZ", _unescape(text[1:end])
    lowered = text.lower()
    match = _DWORD.match(lowered)
    if match:
        return "REG_DWORD", int(match.group(1), 16)
    match = _HEX.match(lowered)
    if not match:
        raise RegFileError(f"unknown value data {text[:40]!r}", number)
    kind = int(match.group(1), 16) if match.group(1) is not None else 3
    raw = _hex_bytes(match.group(2), number)
    return reg_type_name(kind), _typed(kind, raw, number, unicode_strings)


def _hex_bytes(text: str, number: int) -> bytes:
    body = text.replace(" ", "").replace("\t", "")
    if not body:
        return b""
    pieces = body.split(",")
    if pieces[-1] == "":
        # A trailing comma only appears before a line break that was cut off.
        raise RegFileError("hex data ends with a comma (truncated)", number)
    if not all(_BYTE.fullmatch(piece) for piece in pieces):
        raise RegFileError("hex data contains something other than byte values", number)
    return bytes(int(piece, 16) for piece in pieces)


def _typed(kind: int, raw: bytes, number: int, unicode_strings: bool) -> Any:
    if kind in (1, 2, 7):
        if unicode_strings:
            if len(raw) % 2:
                raise RegFileError("string data with an odd number of bytes", number)
            text = raw.decode("utf-16-le", errors="surrogatepass")
        else:
            text = raw.decode("cp1252", errors="replace")
        if kind == 7:
            return [part for part in text.rstrip("\0").split("\0")] if text.strip("\0") else []
        return text.split("\0", 1)[0]
    if kind == 4:
        if len(raw) != 4:
            raise RegFileError("REG_DWORD data is not 4 bytes", number)
        return struct.unpack("<I", raw)[0]
    if kind == 5:
        if len(raw) != 4:
            raise RegFileError("REG_DWORD_BIG_ENDIAN data is not 4 bytes", number)
        return struct.unpack(">I", raw)[0]
    if kind == 11:
        if len(raw) != 8:
            raise RegFileError("REG_QWORD data is not 8 bytes", number)
        return struct.unpack("<Q", raw)[0]
    return raw


def _link_subkeys(keys: dict[str, RegistryKey]) -> None:
    by_lower = {path.lower(): key for path, key in keys.items()}
    for path in keys:
        parent, _, child = path.rpartition("\\")
        owner = by_lower.get(parent.lower())
        if owner is not None and child not in owner.subkeys:
            owner.subkeys.append(child)


# --- Writing ----------------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _hex_lines(prefix: str, kind_label: str, raw: bytes) -> str:
    """``prefix`` + ``hex...:`` + bytes, wrapped like regedit (Wine's export_hex_data)."""
    out = [prefix, kind_label]
    line_length = len(prefix) + len(kind_label)
    for index, byte in enumerate(raw):
        out.append(f"{byte:02x}")
        if index == len(raw) - 1:
            break
        out.append(",")
        line_length += 3
        if line_length >= _MAX_HEX_CHARS:
            out.append("\\\r\n  ")
            line_length = 2
    return "".join(out)


def _format_value(name: str, kind: str, data: Any) -> str:
    prefix = "@=" if name == "" else f'"{_escape(name)}"='
    if kind == "REG_SZ" and isinstance(data, str) and not any(c in data for c in "\r\n\0"):
        return f'{prefix}"{_escape(data)}"'
    if kind == "REG_DWORD" and isinstance(data, int):
        return f"{prefix}dword:{data & 0xFFFFFFFF:08x}"
    number = reg_type_number(kind)
    raw = _raw_bytes(number, data)
    label = "hex:" if number == 3 else f"hex({number:x}):"
    return _hex_lines(prefix, label, raw)


def _raw_bytes(number: int, data: Any) -> bytes:
    if number in (1, 2):
        return (str(data) + "\0").encode("utf-16-le", errors="surrogatepass")
    if number == 7:
        items = list(data or [])
        return ("".join(f"{item}\0" for item in items) + "\0").encode("utf-16-le", errors="surrogatepass")
    if number == 4:
        return struct.pack("<I", int(data) & 0xFFFFFFFF)
    if number == 5:
        return struct.pack(">I", int(data) & 0xFFFFFFFF)
    if number == 11:
        return struct.pack("<Q", int(data) & 0xFFFFFFFFFFFFFFFF)
    return bytes(data or b"")


def format_reg(keys: Iterable[RegistryKey]) -> str:
    """Export text (CRLF line ends), keys in the order given."""
    parts = [HEADER_V5, ""]
    for key in keys:
        parts.append(f"[{canonical_key(key.path)}]")
        for name, (kind, data) in key.values.items():
            parts.append(_format_value(name, kind, data))
        parts.append("")
    return "\r\n".join(parts) + "\r\n"


def write_reg(keys: Iterable[RegistryKey]) -> bytes:
    """Bytes exactly as ``reg export`` writes them: UTF-16 LE with a BOM."""
    return codecs.BOM_UTF16_LE + format_reg(keys).encode("utf-16-le", errors="surrogatepass")

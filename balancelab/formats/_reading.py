"""The one set of file-reading helpers of every reader: a file's bytes, its UTF-8 text, plain
numbers, and where a problem is (file and line).

The Motion-BIDS reader reads a file whole (`read_bytes`, `decode_text`, `decode_line`); the
importers read theirs in blocks (`_sources.CheckedStream`), with the same errors for a file that
cannot be read (`os_error`) and the same line count (`line_at`). Both parse cells with
`is_number` and `shifted_decimal`.
"""

from __future__ import annotations

import re
from pathlib import Path

from balancelab.errors import FormatError

# A plain decimal number, optionally with an exponent: no nan, inf, separators or spaces.
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NOT_UTF8 = "bytes that are not UTF-8 text"


def os_error(exc: OSError, path: Path | str) -> FormatError:
    """The FormatError for a file the OS would not let us read (missing, a folder, no access)."""
    return FormatError(
        f"cannot read the file: {exc.strerror or exc}",
        path=str(path),
        advice="Check that the path exists and that you may read it.",
    )


def read_bytes(path: Path) -> bytes:
    """A file's bytes; an unreadable or missing file raises FormatError."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise os_error(exc, path) from exc


def line_at(data: bytes, offset: int, first_line: int = 1) -> int:
    """The line number of byte `offset` of `data`, whose first byte is on line `first_line`."""
    return first_line + data.count(b"\n", 0, offset)


def decode_text(data: bytes, path: Path) -> str:
    """UTF-8 text of a file's bytes (a leading byte-order mark, as spreadsheet programs write,
    is dropped); bad bytes raise FormatError naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(_NOT_UTF8, path=str(path), line=line_at(data, exc.start)) from exc


def decode_line(raw: bytes, path: Path, number: int) -> str:
    """UTF-8 text of line `number` of a file (its bytes without the newline); bad bytes raise
    FormatError naming that line."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(_NOT_UTF8, path=str(path), line=number) from exc


def is_number(text: str) -> bool:
    """True for a plain decimal number (optionally with exponent); no nan, inf or separators."""
    return NUMBER.fullmatch(text) is not None


def shifted_decimal(text: str, decimal_shift: int) -> float:
    """The plain number `text` times 10**-decimal_shift, correctly rounded once to a float.

    The shift moves the decimal exponent of the text (exact), then float() rounds: no
    intermediate rounding, whatever the number of digits.
    """
    if "e" not in text and "E" not in text:
        return float(f"{text}e{-decimal_shift}")
    mantissa, _, exponent = text.lower().partition("e")
    return float(f"{mantissa}e{int(exponent) - decimal_shift}")

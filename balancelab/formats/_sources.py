"""The bytes of an imported file or zip member, read in blocks under stated limits.

Every block is checked as it arrives (no NUL byte, valid UTF-8, the size limit, and for a zip
member the expansion ratio against the compressed bytes actually read), so a bad or hostile
file is refused after reading about as much as it takes to see the problem, never all of it.
"""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from balancelab.errors import FormatError
from balancelab.formats._reading import line_at, os_error

# A 1-hour 500-Hz export with 10 channels and a time column, written as phyphox does
# ("9.806650000E0", ~14 characters and a separator a cell), is 1.8 M rows x 11 cells x 15 B
# = ~300 MB; 512 MB leaves room for wider or longer files and keeps an import in memory.
MAX_FILE_BYTES = 512 * 1024 * 1024
SIZE_ADVICE = (
    "Split the recording into shorter files (for example one per trial) or export only the"
    " sensors you need; balancelab reads files of up to 512 MB."
)
# Sensor CSVs (full-resolution floats, noise in the last digits) deflate about 2.5-4:1;
# long NaN paddings or a sensor held still push a file towards 10:1. 100:1 leaves ten times
# that margin, and refuses zip bombs: deflate reaches ~1000:1 on repeated bytes.
MAX_ZIP_RATIO = 100
# Small members may compress far better (a few header lines); the ratio applies above this.
RATIO_FREE_BYTES = 1024 * 1024
BLOCK_BYTES = 64 * 1024  # one read; a member's compressed read-ahead stays this small
BOMB_ADVICE = (
    "This zip unpacks to far more than a sensor export does (a compression bomb, or a damaged"
    " archive). Export it again from the app; if you trust its content, unzip it yourself and"
    " import the unzipped folder."
)
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,  # zipfile's answer to a compression method it cannot read
    ValueError,
    OverflowError,
)
_BOM = codecs.BOM_UTF8


def check_size(size_bytes: int, where: str) -> None:
    """Refuse empty files and files over MAX_FILE_BYTES, before reading them."""
    if size_bytes == 0:
        raise FormatError("the file is empty", path=where)
    if size_bytes > MAX_FILE_BYTES:
        raise FormatError(
            f"the file is {size_bytes / 2**20:.0f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit",
            path=where,
            advice=SIZE_ADVICE,
        )


class CheckedStream(io.RawIOBase):
    """UTF-8 text bytes of one file or member, checked block by block (a BOM is dropped).

    `size` is the expected length, to size arrays; `member` and `compressed` (bytes of the
    archive read so far) are given for a zip member:
    the bytes out may then not exceed MAX_ZIP_RATIO times the compressed bytes read.
    """

    def __init__(
        self,
        inner: BinaryIO,
        where: str,
        *,
        size: int,
        member: str | None = None,
        compressed: Callable[[], int] | None = None,
    ) -> None:
        super().__init__()
        self._inner = inner
        self.size = size  # bytes expected (the file's size, a member's declared size)
        self.where = where
        self._member = member
        self._compressed = compressed
        self._start = compressed() if compressed else 0
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.offset = 0  # bytes read, the BOM included
        self._newlines = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(min(len(buffer), BLOCK_BYTES))
        except ZIP_ERRORS as exc:
            if self._member is None and isinstance(exc, OSError):
                raise os_error(exc, self.where) from None
            raise damaged_member(exc, self.where) from None
        first = self.offset == 0
        self._check(data)
        if first and data.startswith(_BOM):
            data = data[len(_BOM) :]
            if not data:
                return self.readinto(buffer)
        buffer[: len(data)] = data
        return len(data)

    def _check(self, data: bytes) -> None:
        start = self.offset
        self.offset += len(data)
        if self.offset > MAX_FILE_BYTES:
            where = f"the zip member {self._member!r}" if self._member else "the file"
            raise FormatError(
                f"{where} holds more than the {MAX_FILE_BYTES // 2**20} MB limit",
                path=self.where,
                advice=SIZE_ADVICE,
            )
        self._check_ratio()
        nul = data.find(b"\x00")
        if nul >= 0:
            raise FormatError(
                "the file holds binary data (NUL bytes), expected a text table",
                path=self.where,
                line=self._line(data, nul),
                advice="Pass the exported CSV/TXT file (UTF-8 text), not a spreadsheet or binary.",
            )
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            at = exc.start - pending  # the decoder's buffer held the last block's tail
            offset = start + at
            byte = exc.object[exc.start]
            raise FormatError(
                f"the file is not UTF-8 text (byte 0x{byte:02x} at offset {offset})",
                path=self.where,
                line=self._line(data, max(at, 0)),
                advice="Export or save the file again as UTF-8 text.",
            ) from None
        self._newlines += data.count(b"\n")

    def _check_ratio(self) -> None:
        if self._compressed is None or self.offset <= RATIO_FREE_BYTES:
            return
        packed = max(self._compressed() - self._start, 1)
        if self.offset > MAX_ZIP_RATIO * packed:
            raise FormatError(
                f"the zip member {self._member!r} expands beyond {MAX_ZIP_RATIO}:1 while"
                f" unpacking ({self.offset / 2**20:.0f} MB from {packed / 2**10:.0f} KB read),"
                " whatever its declared sizes say",
                path=self.where,
                advice=BOMB_ADVICE,
            )

    def _line(self, data: bytes, at: int) -> int:
        return line_at(data, at, self._newlines + 1)


class _CountingFile(io.RawIOBase):
    """A file whose reads are counted: the compressed bytes a zip member has consumed."""

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def read(self, size: int | None = -1) -> bytes:
        data = self._inner.read(-1 if size is None else size)
        self.bytes_read += len(data)
        return data


@dataclass(frozen=True)
class Source:
    """One file, or one member of a zip archive (`member` set), re-readable from its start."""

    path: Path
    member: str | None = None
    where: str = ""

    @property
    def name(self) -> str:
        return self.member if self.member is not None else self.path.name

    @contextmanager
    def open(self) -> Iterator[CheckedStream]:
        """A CheckedStream over the bytes; size and (for a member) ratio checked first."""
        where = self.where or str(self.path)
        if self.member is None:
            try:
                size = self.path.stat().st_size
                check_size(size, where)
                handle = self.path.open("rb")
            except OSError as exc:
                raise os_error(exc, self.path) from None
            with handle:
                yield CheckedStream(handle, where, size=size)
            return
        with ExitStack() as stack:
            try:
                handle = stack.enter_context(self.path.open("rb"))
                counted = _CountingFile(handle)
                archive = stack.enter_context(zipfile.ZipFile(counted))
                info = archive.getinfo(self.member)
                check_member(info, where)
                member = stack.enter_context(archive.open(info))
            except ZIP_ERRORS as exc:
                raise damaged_member(exc, where) from None
            yield CheckedStream(
                member,  # type: ignore[arg-type]
                where,
                size=info.file_size,
                member=self.member,
                compressed=lambda: counted.bytes_read,
            )


def damaged_member(exc: Exception, where: str) -> FormatError:
    return FormatError(
        f"cannot unpack this member of the zip archive ({exc}); the zip is damaged",
        path=where,
        advice="Export or copy the zip again from the app.",
    )


def check_member(info: zipfile.ZipInfo, where: str) -> None:
    """Refuse a zip member whose declared size or compression ratio is over the limits."""
    name, size, packed = info.filename, info.file_size, info.compress_size
    if size == 0:
        raise FormatError("the file is empty", path=where)
    if size > MAX_FILE_BYTES:
        raise FormatError(
            f"the zip member {name!r} unpacks to {size / 2**20:.0f} MB, over the"
            f" {MAX_FILE_BYTES // 2**20} MB limit",
            path=where,
            advice=SIZE_ADVICE,
        )
    if size > RATIO_FREE_BYTES and size > MAX_ZIP_RATIO * max(packed, 1):
        raise FormatError(
            f"the zip member {name!r} unpacks {packed / 2**10:.0f} KB to"
            f" {size / 2**20:.0f} MB, a ratio of {size / max(packed, 1):.0f}:1, over the"
            f" {MAX_ZIP_RATIO}:1 limit",
            path=where,
            advice=BOMB_ADVICE,
        )

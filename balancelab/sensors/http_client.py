"""A tiny HTTP/1.1 GET over asyncio streams, for phone apps on the local network (phyphox).

One request per connection (`Connection: close`), bounded in time and size. Every failure is an
`HttpError` with a short `reason` word a source counts (`timeout`, `connection`,
`disconnected`, `bad_response`, `http_<status>`) and a `detail` a person can read.
"""

from __future__ import annotations

import asyncio
import contextlib

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_HEAD_BYTES = 64 * 1024


class HttpError(Exception):
    """A request that gave no usable answer."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


async def http_get(host: str, port: int, target: str, *, timeout_s: float) -> bytes:
    """The body of `GET target` (status 200 only); raises HttpError for anything else."""
    where = f"http://{host}:{port}{target}"
    try:
        async with asyncio.timeout(timeout_s):
            return await _exchange(host, port, target)
    except TimeoutError:
        raise HttpError("timeout", f"no answer from {where} within {timeout_s:g} s") from None
    except asyncio.IncompleteReadError:
        raise HttpError("disconnected", f"{where} closed the connection early") from None
    except (asyncio.LimitOverrunError, ValueError) as exc:
        raise HttpError("bad_response", f"{where} sent a malformed response: {exc}") from None
    except OSError as exc:
        raise HttpError("connection", f"cannot reach {where}: {exc.strerror or exc}") from None


async def _exchange(host: str, port: int, target: str) -> bytes:
    reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD_BYTES)
    try:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Accept: application/json\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("ascii"))
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status, headers = _parse_head(head)
        body = await _read_body(reader, headers)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if status != 200:
        raise HttpError(f"http_{status}", f"http://{host}:{port}{target} answered {status}")
    return body


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"status line {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length = headers.get("content-length")
    if length is not None:
        size = int(length)
        if not 0 <= size <= MAX_BODY_BYTES:
            raise ValueError(f"Content-Length {size}")
        return await reader.readexactly(size)
    chunks: list[bytes] = []
    total = 0
    while chunk := await reader.read(65536):
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise ValueError("body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        total += size
        if total > MAX_BODY_BYTES:
            raise ValueError("body too large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)

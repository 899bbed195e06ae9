"""Streaming upload reader: the uploaded file goes to a private folder, size checked as it arrives.

Two ways to send the file: a ``multipart/form-data`` form (a part named ``file``, options as
further fields), as the web page and ``curl -F`` send it, or the request body itself
(``Content-Type: application/octet-stream``, ``image/*`` or ``application/pdf``; options in the
query string), as ``curl --data-binary`` and most HTTP client libraries send a file by default.

Starlette's own form parser spools files to the system temp folder and has no size limit for
files, so the service parses ``multipart/form-data`` itself with ``python_multipart``'s push
parser. Memory use per request is bounded (a 1 MiB write buffer, small form fields), the file is
written under a fixed name inside a ``mkdtemp`` folder (mode 0700), and the client's file name
is only kept, cleaned, for display: no request value ever becomes part of a path.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Callable

from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

__all__ = ["Upload", "UploadError", "read_upload", "clean_filename"]

_FLUSH = 1 << 20            # write the file in ~1 MiB pieces
_MAX_FIELD = 4096           # bytes per form field
_MAX_FIELDS = 32
_FRAMING = 64 * 1024        # multipart boundaries and part headers on top of the file itself
UPLOAD_NAME = "upload"      # the only file name the service ever writes

class UploadError(Exception):
    """A request body the service refuses; ``status`` and ``code`` become the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Upload:
    """The request's file (on disk, in ``folder``) and its text form fields."""

    path: Path
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)


def clean_filename(name: str, limit: int = 120) -> str:
    """A client-supplied file name reduced to something safe to *display* (never to open).

    Keeps the last path component (either slash style), drops control and format characters,
    and shortens it; ``../../etc/passwd`` becomes ``passwd``.
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/")).split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return name[:limit] or "upload"


def _is_raw(ctype: bytes) -> bool:
    return ctype in (b"application/octet-stream", b"application/pdf") or ctype.startswith(b"image/")


async def read_upload(stream: AsyncIterator[bytes], content_type: str, folder: Path,
                      max_bytes: int, declared_length: int | None = None, disposition: str = "") -> Upload:
    """Read the request's file into ``folder``: a ``multipart/form-data`` body with exactly one file
    part named ``file``, or a raw body (its name from a ``Content-Disposition`` header, if any).

    Raises UploadError 413 as soon as the file (or the body) passes ``max_bytes``, 400 for a
    malformed body and 415 for a body that is neither.
    """
    ctype, params = parse_options_header(content_type)
    if _is_raw(ctype):
        return await _read_body(stream, folder, max_bytes, declared_length, disposition)
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, "unsupported_media_type",
                          "send the file as multipart/form-data with a part named 'file', or as the request body "
                          "with Content-Type application/octet-stream, image/* or application/pdf")
    body_limit = max_bytes + _FRAMING
    if declared_length is not None and declared_length > body_limit:
        raise UploadError(413, "too_large", f"upload is over the limit of {_mib(max_bytes)}")

    state = _PartState(folder / UPLOAD_NAME, max_bytes)
    try:
        parser = MultipartParser(params[b"boundary"], state.callbacks(), max_header_count=8,
                                 max_header_size=4096)
    except ValueError as exc:
        raise UploadError(400, "bad_request", f"malformed multipart body: {exc}") from None
    def parse(chunk: bytes) -> None:
        try:
            parser.write(chunk)
        except ValueError as exc:  # python_multipart's ParseError is a ValueError
            raise UploadError(400, "bad_request", f"malformed multipart body: {exc}") from None

    try:
        await _pump(stream, body_limit, max_bytes, state, parse)
        parser.finalize()
        if parser.state != MultipartState.END:
            raise UploadError(400, "bad_request", "multipart body ends before its closing boundary")
        state.check()
        await asyncio.to_thread(state.close)
    finally:
        state.abort()
    if not state.file_seen:
        raise UploadError(400, "bad_request", "no file: send it in a form part named 'file'")
    return Upload(path=state.path, filename=state.filename, size=state.file_bytes, fields=state.fields)


async def _read_body(stream: AsyncIterator[bytes], folder: Path, max_bytes: int, declared_length: int | None,
                     disposition: str) -> Upload:
    """The whole body is the file."""
    if declared_length is not None and declared_length > max_bytes:
        raise UploadError(413, "too_large", f"upload is over the limit of {_mib(max_bytes)}")
    _, params = parse_options_header(disposition)
    filename = params.get(b"filename")
    state = _PartState(folder / UPLOAD_NAME, max_bytes)
    try:
        received = await _pump(stream, max_bytes, max_bytes, state, state.buffer.extend)
        await asyncio.to_thread(state.close)
    finally:
        state.abort()
    return Upload(path=state.path, filename=clean_filename(filename.decode("utf-8", "replace") if filename else ""),
                  size=received)


async def _pump(stream: AsyncIterator[bytes], limit: int, max_bytes: int, state: "_PartState",
                take: Callable[[bytes], None]) -> int:
    """Hand the body to ``take`` chunk by chunk, writing the file's buffered bytes out as they pass
    ``_FLUSH``; 413 as soon as more than ``limit`` bytes came. Returns the bytes received."""
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit:
            raise UploadError(413, "too_large", f"upload is over the limit of {_mib(max_bytes)}")
        take(chunk)
        state.check()
        if len(state.buffer) >= _FLUSH:
            await asyncio.to_thread(state.flush)
    return received


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


class _PartState:
    """Callbacks for the push parser; they only collect, the async caller does the I/O."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.filename = "upload"
        self.file_seen = False
        self.file_bytes = 0
        self.buffer = bytearray()
        self.error: UploadError | None = None
        self._fd: int | None = None
        self._headers: dict[str, str] = {}
        self._hname = bytearray()
        self._hvalue = bytearray()
        self._kind = ""          # "file" | "field" | "skip" for the current part
        self._name = ""
        self._value = bytearray()

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
                "on_header_field": self._hfield, "on_header_value": self._hval,
                "on_header_end": self._hend, "on_headers_finished": self._headers_done}

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def _fail(self, status: int, code: str, message: str) -> None:
        if self.error is None:
            self.error = UploadError(status, code, message)

    def _begin(self) -> None:
        self._headers, self._kind, self._name, self._value = {}, "", "", bytearray()

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def _hval(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def _hend(self) -> None:
        # latin-1 keeps every byte: parse_options_header re-encodes it, and the file name is then
        # decoded as UTF-8 with replacement (a raw non-UTF-8 name, as curl sends it, is not an error).
        self._headers[self._hname.decode("latin-1").lower()] = self._hvalue.decode("latin-1")
        self._hname, self._hvalue = bytearray(), bytearray()

    def _headers_done(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if name == "file":
            if self.file_seen:
                self._fail(400, "bad_request", "more than one part named 'file'")
                self._kind = "skip"
                return
            self.file_seen, self._kind = True, "file"
            self.filename = clean_filename(filename.decode("utf-8", "replace") if filename is not None else "")
        elif filename is not None:
            self._fail(400, "bad_request", f"unexpected file part {name[:40]!r}; send one part named 'file'")
            self._kind = "skip"
        else:
            if len(self.fields) >= _MAX_FIELDS:
                self._fail(400, "bad_request", f"more than {_MAX_FIELDS} form fields")
            self._kind, self._name = "field", name

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._kind == "file":
            self.file_bytes += end - start
            if self.file_bytes > self.max_bytes:
                self._fail(413, "too_large", f"upload is over the limit of {_mib(self.max_bytes)}")
                return
            self.buffer += data[start:end]
        elif self._kind == "field":
            self._value += data[start:end]
            if len(self._value) > _MAX_FIELD:
                self._fail(400, "bad_request", f"form field {self._name[:40]!r} is over {_MAX_FIELD} bytes")
                self._kind = "skip"

    def _end(self) -> None:
        if self._kind == "field":
            try:
                self.fields[self._name] = self._value.decode("utf-8")
            except UnicodeDecodeError:
                self._fail(400, "bad_request", f"form field {self._name[:40]!r} is not UTF-8")
        self._kind = "skip"

    def flush(self) -> None:
        """Append the buffered file bytes to the upload file (runs in a worker thread)."""
        if self._fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            self._fd = os.open(self.path, flags, 0o600)
        data, self.buffer = bytes(self.buffer), bytearray()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def abort(self) -> None:
        """Close the file if an error left it open (the caller removes the folder)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

"""What a statement workbook may make the server read, checked before openpyxl parses any of it.

An .xlsx file is a zip archive of XML parts. A few kilobytes can unpack to gigabytes, and openpyxl
reads some parts whole: 3,000,000 shared strings in a 133 KB file took 51 s of CPU, one 150 MB
cell in a 158 KB file took 600 MB of memory. ``workbook_check_limits`` bounds that work, in this
order, each step reading only what the previous one bounded:

1. the file's size (``STATEMENT_UPLOAD_MAX_BYTES``): 413 ``upload_too_large``;
2. the zip directory, nothing unpacked: the number of parts (``STATEMENT_UPLOAD_MAX_MEMBERS``),
   their total uncompressed size (``STATEMENT_UPLOAD_MAX_UNCOMPRESSED_BYTES``), the size of each
   part that openpyxl reads whole (``STATEMENT_UPLOAD_MAX_PART_BYTES``: styles, the workbook part,
   properties, pictures; everything but the worksheets, which it streams, and the shared strings)
   and of the shared strings (``STATEMENT_UPLOAD_MAX_SHARED_STRINGS_BYTES``): 400
   ``workbook_too_large``. zipfile never unpacks more than a part's declared size (it stops there
   and the CRC check fails), so these sizes bound what is read below;
3. the shared strings and the worksheets, streamed in 64 KB reads through expat, stopping at the
   first limit passed: the number of shared strings (``STATEMENT_UPLOAD_MAX_SHARED_STRINGS``,
   400 ``too_many_strings``) and the characters of one string or cell
   (``STATEMENT_UPLOAD_MAX_CELL_CHARS``, 400 ``cell_too_long``). A part with a DTD (which OOXML
   forbids) or that is not XML is ``not_a_workbook``.

Which parts are worksheets and shared strings is read from ``[Content_Types].xml``, as openpyxl
finds them, not guessed from their names. ``upload_check_length`` refuses a request whose
``Content-Length`` already says the file is too large, before its body is read.

The reader (``expenditures.workbook.statement_from_workbook``) calls ``workbook_check_limits``
first, so every path that reads a workbook meets the same limits.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree
from xml.parsers import expat

from django.conf import settings
from django.utils.translation import gettext as _

from grants.errors import ApplicationError, ErrorCode, PayloadTooLarge

CHUNK_BYTES = 64 * 1024
# A multipart body carries the file and a few hundred bytes of boundaries and headers.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
CONTENT_TYPES = "[Content_Types].xml"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
# Elements whose text is a cell's content: a string's text (<t>), a value (<v>), a formula (<f>).
TEXT_ELEMENTS = frozenset({"t", "v", "f"})


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    max_members: int
    max_uncompressed_bytes: int
    max_part_bytes: int
    max_shared_strings: int
    max_shared_strings_bytes: int
    max_cell_chars: int

    @classmethod
    def from_settings(cls) -> UploadLimits:
        return cls(max_bytes=settings.STATEMENT_UPLOAD_MAX_BYTES,
                   max_members=settings.STATEMENT_UPLOAD_MAX_MEMBERS,
                   max_uncompressed_bytes=settings.STATEMENT_UPLOAD_MAX_UNCOMPRESSED_BYTES,
                   max_part_bytes=settings.STATEMENT_UPLOAD_MAX_PART_BYTES,
                   max_shared_strings=settings.STATEMENT_UPLOAD_MAX_SHARED_STRINGS,
                   max_shared_strings_bytes=settings.STATEMENT_UPLOAD_MAX_SHARED_STRINGS_BYTES,
                   max_cell_chars=settings.STATEMENT_UPLOAD_MAX_CELL_CHARS)


def megabytes(size: int) -> str:
    """A size as the messages show it: 5242880 -> "5", 2621440 -> "2.5" (MB of 1,048,576 bytes)."""
    return f"{size / 1_048_576:.1f}".removesuffix(".0")


def _too_large_upload(limits: UploadLimits) -> PayloadTooLarge:
    return PayloadTooLarge(_("A statement workbook holds at most %(limit)s MB; this file is larger.") % {
        "limit": megabytes(limits.max_bytes)}, code=ErrorCode.UPLOAD_TOO_LARGE, attr="file")


def _not_a_workbook() -> ApplicationError:
    return ApplicationError(_("This file is not an Excel workbook (.xlsx)."), code=ErrorCode.NOT_A_WORKBOOK,
                            attr="file")


def _too_large(detail: str) -> ApplicationError:
    return ApplicationError(detail, code=ErrorCode.WORKBOOK_TOO_LARGE, attr="file")


def upload_check_length(content_length, limits: UploadLimits | None = None) -> None:
    """Before a multipart body is read: raises ``PayloadTooLarge`` (413) when its declared length
    is more than the largest file plus the multipart overhead. A body without a length is read and
    its file checked by ``workbook_check_limits``."""
    limits = limits or UploadLimits.from_settings()
    try:
        length = int(content_length or 0)
    except (TypeError, ValueError):
        return
    if length > limits.max_bytes + MULTIPART_OVERHEAD_BYTES:
        raise _too_large_upload(limits)


def _size_of(file) -> int:
    if isinstance(file, str | os.PathLike):
        return os.path.getsize(file)
    size = getattr(file, "size", None)  # Django's UploadedFile
    if isinstance(size, int):
        return size
    position = file.tell()
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(position)
    return size


def workbook_check_limits(file, limits: UploadLimits | None = None) -> None:
    """Raises ``PayloadTooLarge`` (413) or ``ApplicationError`` (400, attr ``file``) when the
    workbook passes a limit (see the module's docstring); returns None when openpyxl may read it.
    ``file`` is a path or a binary file object that seeks; it is left at its start."""
    limits = limits or UploadLimits.from_settings()
    if _size_of(file) > limits.max_bytes:
        raise _too_large_upload(limits)
    if hasattr(file, "seek"):
        file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            _check_directory(archive, limits)
    except (zipfile.BadZipFile, zlib.error, expat.ExpatError, ElementTree.ParseError, EOFError, OSError,
            NotImplementedError, RuntimeError, ValueError, KeyError) as exc:
        # not a zip, a damaged part, a compression zipfile cannot read, an encrypted part, not XML
        raise _not_a_workbook() from exc
    finally:
        if hasattr(file, "seek"):
            file.seek(0)


def _check_directory(archive: zipfile.ZipFile, limits: UploadLimits) -> None:
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise _too_large(_("This workbook has %(count)s parts; a statement workbook has at most %(limit)s.") % {
            "count": len(members), "limit": limits.max_members})
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise _too_large(_("Uncompressed, this workbook takes %(size)s MB; a statement workbook takes at most "
                           "%(limit)s MB.") % {"size": megabytes(total),
                                               "limit": megabytes(limits.max_uncompressed_bytes)})
    content_types = next((member for member in members if member.filename == CONTENT_TYPES), None)
    if content_types is None:
        raise _not_a_workbook()
    _check_part_size(content_types, limits.max_part_bytes)
    worksheets, shared_strings = _streamed_parts(archive.read(content_types))
    for member in members:
        name = member.filename.lower()  # a part's name is case-insensitive (OPC)
        if name in shared_strings:
            _check_part_size(member, limits.max_shared_strings_bytes)
        elif name not in worksheets:
            _check_part_size(member, limits.max_part_bytes)
    for member in members:
        name = member.filename.lower()
        if name in shared_strings or name in worksheets:
            _scan(archive, member, item="si" if name in shared_strings else "c", limits=limits)


def _check_part_size(member: zipfile.ZipInfo, limit: int) -> None:
    if member.file_size > limit:
        raise _too_large(_("The part %(part)s of this workbook takes %(size)s MB uncompressed; at most %(limit)s MB "
                           "is read.") % {"part": member.filename, "size": megabytes(member.file_size),
                                          "limit": megabytes(limit)})


def _streamed_parts(content_types: bytes) -> tuple[set[str], set[str]]:
    """The worksheets and the shared strings, by their names in the archive (lower case), as
    ``[Content_Types].xml`` declares them (openpyxl finds the shared strings there; a part
    declared with another type as well is not taken as a worksheet)."""
    root = ElementTree.fromstring(content_types)
    types: dict[str, set[str]] = {}
    for element in root:
        if element.tag.rpartition("}")[2] == "Override":
            name = element.get("PartName", "").removeprefix("/").lower()
            types.setdefault(name, set()).add(element.get("ContentType", ""))
    worksheets = {name for name, kinds in types.items() if kinds == {WORKSHEET_TYPE}}
    shared_strings = {name for name, kinds in types.items() if SHARED_STRINGS_TYPE in kinds}
    return worksheets, shared_strings


class _Scan:
    """expat's handlers over one part: ``item`` is the element that holds one string (``si`` in
    the shared strings) or one cell (``c`` in a worksheet); the text of its <t>, <v> and <f>
    elements is counted as it streams, and the scan stops at the first limit passed."""

    def __init__(self, item: str, limits: UploadLimits):
        self.item, self.limits = item, limits
        self.items = 0
        self.chars = 0
        self.in_item = self.in_text = False

    def start(self, name: str, attributes) -> None:
        local = name.rpartition(":")[2]  # no namespace processing: "x:si" and "si" alike
        if local == self.item:
            self.items += 1
            self.chars = 0
            self.in_item = True
            if self.item == "si" and self.items > self.limits.max_shared_strings:
                raise ApplicationError(
                    _("This workbook holds more than %(limit)s different texts; a statement workbook holds "
                      "fewer.") % {"limit": self.limits.max_shared_strings},
                    code=ErrorCode.TOO_MANY_STRINGS, attr="file")
        elif local in TEXT_ELEMENTS:
            self.in_text = True

    def end(self, name: str) -> None:
        local = name.rpartition(":")[2]
        if local in TEXT_ELEMENTS:
            self.in_text = False
        elif local == self.item:
            self.in_item = False

    def text(self, data: str) -> None:
        if self.in_item and self.in_text:  # a data validation's <xm:f> is no cell
            self.chars += len(data)
            if self.chars > self.limits.max_cell_chars:
                raise ApplicationError(
                    _("A cell of this workbook holds more than %(limit)s characters.") % {
                        "limit": self.limits.max_cell_chars}, code=ErrorCode.CELL_TOO_LONG, attr="file")

    @staticmethod
    def doctype(*args) -> None:
        raise expat.ExpatError("a DTD in a workbook part")


def _scan(archive: zipfile.ZipFile, member: zipfile.ZipInfo, *, item: str, limits: UploadLimits) -> None:
    """Stream one part through expat (raises at the first limit passed, or ``ExpatError``)."""
    scan = _Scan(item, limits)
    parser = expat.ParserCreate()
    parser.buffer_text = True  # text comes in pieces of at most buffer_size characters
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.CharacterDataHandler = scan.text
    parser.StartDoctypeDeclHandler = scan.doctype
    with archive.open(member) as part:
        while chunk := part.read(CHUNK_BYTES):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)

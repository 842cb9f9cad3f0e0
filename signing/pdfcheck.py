"""The file structure of a signed PDF, read independently of pyHanko, and what it costs.

pyHanko validates the signatures and analyses the later revisions it sees. The attacks
of the PDF-Insecurity research live in the gap between what pyHanko sees and what a
viewer (poppler, Acrobat) shows; this module closes the gaps we know of by reading the
cross-reference chain itself and checking that the two readings cannot differ:

* End of file. The last ``startxref`` of the file must be followed by a line that is
  exactly ``%%EOF`` and then only whitespace, and its offset must be the one pyHanko
  used. Otherwise a viewer follows the last ``startxref`` to an update pyHanko never
  parsed (pyHanko looks for a line *starting* with %%EOF and walks back past ``" %%EOF"``).
* Revisions account for the whole file. From the end of the first signed revision to
  the end of the file, the bytes are exactly the later revisions of the chain, one after
  the other, each ending with ``startxref`` (its own offset) and ``%%EOF``; an object
  written in such an update but missing from its cross-reference section is reported
  (a viewer that rebuilds a damaged cross-reference table would use it).
* One object, one entry. A cross-reference section (table, stream, or a hybrid pair)
  that lists an object number twice is ambiguous: poppler keeps the first entry, pyHanko
  the last. Every in-use entry must point at the header of the object it names.
* Objects that did not exist when signing. A reference in the signed revision to an
  object that was not defined there (a viewer draws nothing) that a later update
  defines changes what the signed page shows, while pyHanko classes the new object as an
  orphan ("shadow attack"). Found by scanning the signed bytes and the object streams
  in use at the signed revision for ``N G R``: a superset of the real references, so it
  never misses one.
* Overlays. An annotation added or changed after signing whose rectangle has an area
  and whose appearance draws something can hide signed content (pyHanko accepts a new
  empty signature field whatever its appearance): the signature is reported as
  modified and not passed.

Costs are capped (:class:`Limits`): file size, revisions, revisions that change
something, cross-reference entries, nesting, decoded stream bytes (pyHanko's decode
limits, tightened) and wall time. Exceeding one raises :class:`InputLimitError`, a
clear error (CLI exit 2), never a traceback. The difference analysis reviews only the
revisions that change something (:class:`ReviewPolicy`): an update with no object and
the same trailer leaves the document as it was, and pyHanko's per-revision review costs
time proportional to the number of revisions, which made N empty updates cost N².
"""

from __future__ import annotations

import dataclasses
import io
import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, StandardDiffPolicy
from pyhanko.sign.diff_analysis.policy_api import DiffResult, SuspiciousModification
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from .errors import SigningPackageError
from .model import Indication, SignatureReport, SubIndication

__all__ = [
    "Limits",
    "DEFAULT_LIMITS",
    "InputLimitError",
    "Budget",
    "Structure",
    "read_structure",
    "Inspection",
    "ReviewPolicy",
    "check_signature_fields",
    "review_with",
    "amend",
    "amend_all",
    "guarded",
]

MiB = 1024 * 1024


class InputLimitError(SigningPackageError):
    """Verifying this file would cost more than one verification may (size, revisions,
    nesting, decoded data, time). The message says which limit and its value."""


@dataclass(frozen=True)
class Limits:
    """What one verification may cost. Honest qujat documents are far below every
    value (a signed act: ~120 KB, 2 to 6 revisions, a few hundred objects)."""

    max_file_size: int = 50 * MiB
    max_revisions: int = 10_000  # every revision, empty updates included
    max_changing_revisions: int = 200  # revisions that define or free objects (each one is diffed)
    max_xref_entries: int = 1_000_000  # summed over all cross-reference sections
    max_nesting: int = 256  # arrays/dictionaries in a trailer or xref stream dictionary
    time_budget_s: float = 60.0
    decode: DecodeLimits = field(
        default_factory=lambda: DecodeLimits(
            per_stream=StreamDecodeLimits(max_ratio=1100, ratio_floor=MiB, max_output_size=64 * MiB),
            document_budget=DocumentDecodeBudget(base_allowance=128 * MiB, max_ratio=4),
        )
    )


DEFAULT_LIMITS = Limits()


class _OverBudget(BaseException):
    """Raised deep inside pyHanko's analysis when the time budget is spent. A
    BaseException so that the ``except Exception`` guards on the way (which turn a
    broken signature into a report) let it through to :func:`guarded`."""


class Budget:
    """The wall-time budget of one verification."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OverBudget(self.seconds)


def guarded(fn):
    """Decorator for ``verify_pdf``: hostile input that exhausts a limit ends in
    :class:`InputLimitError`, whatever layer noticed it."""
    import functools

    from pyhanko.pdf_utils.misc import PdfDecodeLimitError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _OverBudget as exc:
            raise InputLimitError(f"verification took longer than its budget of {exc.args[0]:g} s") from None
        except PdfDecodeLimitError as exc:
            raise InputLimitError(f"a compressed stream decodes to more data than allowed ({exc})") from None
        except RecursionError:
            raise InputLimitError("the file nests objects deeper than can be read") from None

    return wrapper


# --- a small PDF object reader (trailers and cross-reference stream dictionaries) -----

_WS = b"\x00\t\n\x0c\r "
_WS_RE = rb"[\x00\t\n\x0c\r ]"
_SKIP = re.compile(rb"(?:[\x00\t\n\x0c\r ]+|%[^\r\n]*)*")
_TOKEN = re.compile(
    rb"(<<|>>|\[|\]|\{|\})"  # 1 delimiters
    rb"|(/[^\x00\t\n\x0c\r ()<>\[\]{}/%]*)"  # 2 names
    rb"|<([0-9A-Fa-f\x00\t\n\x0c\r ]*)>"  # 3 hex strings
    rb"|(\()"  # 4 literal strings
    rb"|([+-]?(?:\d+\.?\d*|\.\d+))"  # 5 numbers
    rb"|([A-Za-z]+)"  # 6 keywords
)


class StructureError(ValueError):
    """The cross-reference data cannot be read the way the PDF standard says."""


@dataclass(frozen=True)
class Ref:
    num: int
    gen: int


class Name(str):
    pass


def _literal_string_end(data: bytes, pos: int) -> int:
    """Offset just after the literal string whose "(" is at ``pos - 1``."""
    depth = 1
    n = len(data)
    while pos < n:
        c = data[pos]
        if c == 0x5C:  # backslash
            pos += 2
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    raise StructureError("unterminated string")


def read_value(data: bytes, pos: int, max_nesting: int) -> tuple[object, int]:
    """One PDF object at ``pos`` (dictionaries, arrays, names, numbers, strings,
    references, keywords), read without recursion; returns (value, end offset)."""
    stack: list[list] = []
    kinds: list[bytes] = []
    while True:
        pos = _SKIP.match(data, pos).end()
        m = _TOKEN.match(data, pos)
        if m is None:
            raise StructureError(f"unexpected byte at offset {pos}")
        pos = m.end()
        delim, name, hexs, lit, num, kw = m.groups()
        value: object
        if delim in (b"<<", b"["):
            if len(stack) >= max_nesting:
                raise InputLimitError(f"objects nested deeper than {max_nesting} levels")
            stack.append([])
            kinds.append(delim)
            continue
        if delim in (b">>", b"]"):
            if not stack or kinds[-1] != (b"<<" if delim == b">>" else b"["):
                raise StructureError(f"unbalanced {delim.decode()} at offset {pos - len(delim)}")
            items = _collapse_refs(stack.pop())
            kinds.pop()
            if delim == b"]":
                value = items
            else:
                if len(items) % 2 or not all(isinstance(k, Name) for k in items[::2]):
                    raise StructureError(f"malformed dictionary ending at offset {pos}")
                value = dict(zip(items[::2], items[1::2]))
        elif delim is not None:
            raise StructureError(f"unexpected {delim!r} at offset {pos - 1}")
        elif name is not None:
            value = Name(name.decode("latin-1"))
        elif hexs is not None:
            value = bytes.fromhex((hexs.translate(None, _WS) + b"0" * (len(hexs.translate(None, _WS)) % 2)).decode())
        elif lit is not None:
            end = _literal_string_end(data, pos)
            value, pos = data[pos:end - 1], end
        elif num is not None:
            value = float(num) if b"." in num else int(num)
        else:
            value = {b"true": True, b"false": False, b"null": None}.get(kw, kw)
        if not stack:
            return value, pos
        stack[-1].append(value)


def _collapse_refs(items: list) -> list:
    out: list = []
    for item in items:
        if (
            item == b"R"
            and len(out) >= 2
            and type(out[-1]) is int
            and type(out[-2]) is int
        ):
            gen = out.pop()
            out[-1] = Ref(out[-1], gen)
        else:
            out.append(item)
    return out


# --- the cross-reference chain ---------------------------------------------------------

FREE, USED, COMPRESSED = "f", "n", "c"
_BOOKKEEPING = {"/Size", "/Prev", "/XRefStm", "/Type", "/W", "/Index", "/Length", "/Filter", "/DecodeParms", "/ID"}
_TAIL = re.compile(
    rb"startxref[\x00\t\n\x0c\r ]+(\d+)[ \t\x0c]*(?:\r\n|\r|\n)%%EOF[\x00\t\n\x0c\r ]*\Z"
)
_MARKER = re.compile(
    rb"(?:[\x00\t\n\x0c\r ]+|%(?!%EOF)[^\r\n]*)*startxref[\x00\t\n\x0c\r ]+(\d+)[ \t\x0c]*(?:\r\n|\r|\n)%%EOF"
)
_TABLE_SUBSECTION = re.compile(rb"[\x00\t\n\x0c\r ]*(\d+)[ \t]+(\d+)[ \t]*(?:\r\n|\r|\n)?")
_TABLE_ENTRY = re.compile(rb"[\x00\t\n\x0c\r ]*(\d{1,10})[ ]+(\d{1,5})[ ]+([nf])(?=[\x00\t\n\x0c\r ])")
_OBJ_HEADER = re.compile(rb"[\x00\t\n\x0c\r ]*(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+obj(?![A-Za-z0-9])")
_ANY_HEADER = re.compile(rb"(?<![0-9])(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+obj(?![A-Za-z0-9])")
_STREAM_KW = re.compile(rb"[\x00\t\n\x0c\r ]*stream(?:\r\n|\n|\r)")
_ENDOBJ = re.compile(rb"[\x00\t\n\x0c\r ]*endstream[\x00\t\n\x0c\r ]*endobj")
# "N G R" with any whitespace or comments between the tokens
_GAP = rb"(?:[\x00\t\n\x0c\r ]|%[^\r\n]*)+"
_REFERENCE = re.compile(rb"(?<![0-9.+\-])(\d+)" + _GAP + rb"(\d+)" + _GAP + rb"R(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])")


@dataclass
class Revision:
    """One cross-reference section of the chain (with its hybrid stream, if any)."""

    startxref: int  # where startxref or /Prev said the section is
    xref_end: int  # offset just after the trailer (table) or the xref stream's endobj
    trailer: dict
    entries: dict[int, tuple[str, int, int]]  # num -> (kind, generation, offset or object stream)
    stream_num: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def changes_something(self) -> bool:
        """False for an update that leaves the document as it was: no object but its own
        cross-reference stream, and (checked by the caller) the same trailer."""
        return any(num != 0 and num != self.stream_num for num in self.entries)


@dataclass
class Structure:
    """The file's revisions as the cross-reference chain gives them, oldest first."""

    pdf: bytes
    revisions: list[Revision]
    problems: list[str]  # file-level: the chain cannot be trusted to mean one thing
    last_startxref: int | None

    def trailer_changed(self, index: int) -> bool:
        if index == 0:
            return True
        def meaning(t: dict) -> dict:
            return {k: v for k, v in t.items() if k not in _BOOKKEEPING}
        return meaning(self.revisions[index].trailer) != meaning(self.revisions[index - 1].trailer)

    def reviewed(self, index: int) -> bool:
        """Whether the difference analysis must look at revision ``index``."""
        return self.revisions[index].changes_something or self.trailer_changed(index)


def read_structure(pdf: bytes, limits: Limits = DEFAULT_LIMITS, budget: Budget | None = None) -> Structure:
    """Follow the cross-reference chain from the last ``startxref``. Limits exceeded
    raise :class:`InputLimitError`; anything ambiguous or unreadable is a problem in
    the result (the signatures are then not passed), not an exception."""
    if len(pdf) > limits.max_file_size:
        raise InputLimitError(
            f"the file has {len(pdf):,} bytes; at most {limits.max_file_size:,} are verified"
        )
    problems: list[str] = []
    m = _TAIL.search(pdf, max(0, len(pdf) - 1024))
    if m is None:
        return Structure(pdf, [], ["the file does not end with startxref, its offset and a %%EOF line"], None)
    last = int(m.group(1))
    chain: list[Revision] = []
    seen: set[int] = set()
    entries_total = 0
    at: int | None = last
    while at is not None:
        if budget is not None:
            budget.check()
        if at in seen:
            problems.append(f"the cross-reference chain loops at offset {at}")
            break
        seen.add(at)
        if len(chain) >= limits.max_revisions:
            raise InputLimitError(f"the file has more than {limits.max_revisions:,} revisions")
        try:
            rev = _read_section(pdf, at, limits, limits.max_xref_entries - entries_total)
        except StructureError as exc:
            problems.append(f"the cross-reference section at offset {at} cannot be read: {exc}")
            break
        entries_total += len(rev.entries)
        chain.append(rev)
        prev = rev.trailer.get("/Prev")
        if prev is not None and type(prev) is not int:
            problems.append(f"the /Prev of the section at offset {at} is not an offset")
            break
        at = prev
    chain.reverse()
    changing = sum(1 for r in chain if r.changes_something)
    if changing > limits.max_changing_revisions:
        raise InputLimitError(
            f"the file has {changing:,} revisions that change objects; at most "
            f"{limits.max_changing_revisions:,} are verified"
        )
    for rev in chain:
        problems.extend(rev.problems)
    return Structure(pdf, chain, problems, last)


def _read_section(pdf: bytes, at: int, limits: Limits, entry_room: int) -> Revision:
    if not 0 <= at < len(pdf):
        raise StructureError("the offset is outside the file")
    pos = _SKIP.match(pdf, at).end()
    if pdf.startswith(b"xref", pos):
        rev = _read_table(pdf, at, pos + 4, limits, entry_room)
        hybrid = rev.trailer.get("/XRefStm")
        if hybrid is not None:
            if type(hybrid) is not int:
                raise StructureError("/XRefStm is not an offset")
            stream = _read_xref_stream(pdf, hybrid, limits, entry_room - len(rev.entries))
            for num, entry in stream.entries.items():
                mine = rev.entries.get(num)
                if mine is None:
                    rev.entries[num] = entry
                elif mine[0] != FREE and entry[0] != FREE:
                    rev.problems.append(
                        f"object {num} is in use in both the table and the stream of the hybrid section at {at}"
                    )
            rev.problems.extend(stream.problems)
        return rev
    if pdf[pos:pos + 1].isdigit():
        return _read_xref_stream(pdf, at, limits, entry_room)
    raise StructureError("no cross-reference table or stream there")


def _entry_room_check(count: int, room: int, limits: Limits) -> None:
    if count > room:
        raise InputLimitError(
            f"the file lists more than {limits.max_xref_entries:,} cross-reference entries"
        )


def _read_table(pdf: bytes, at: int, pos: int, limits: Limits, room: int) -> Revision:
    entries: dict[int, tuple[str, int, int]] = {}
    problems: list[str] = []
    while True:
        after = _SKIP.match(pdf, pos).end()
        if pdf.startswith(b"trailer", after):
            pos = after + 7
            break
        m = _TABLE_SUBSECTION.match(pdf, pos)
        if m is None:
            raise StructureError(f"bad subsection header at offset {after}")
        first, count = int(m.group(1)), int(m.group(2))
        _entry_room_check(len(entries) + count, room, limits)
        pos = m.end()
        for num in range(first, first + count):
            e = _TABLE_ENTRY.match(pdf, pos)
            if e is None:
                raise StructureError(f"bad entry for object {num} at offset {pos}")
            pos = e.end()
            if num in entries:
                problems.append(f"object {num} is listed twice in the cross-reference table at offset {at}")
                continue
            kind = USED if e.group(3) == b"n" else FREE
            entries[num] = (kind, int(e.group(2)), int(e.group(1)))
    trailer, end = read_value(pdf, pos, limits.max_nesting)
    if not isinstance(trailer, dict):
        raise StructureError("the trailer is not a dictionary")
    return Revision(at, end, trailer, entries, None, problems)


def _read_xref_stream(pdf: bytes, at: int, limits: Limits, room: int) -> Revision:
    header = _OBJ_HEADER.match(pdf, at)
    if header is None:
        raise StructureError("no object header")
    num = int(header.group(1))
    info, pos = read_value(pdf, header.end(), limits.max_nesting)
    if not isinstance(info, dict) or info.get("/Type") != "/XRef":
        raise StructureError("the object there is not a cross-reference stream")
    length = info.get("/Length")
    s = _STREAM_KW.match(pdf, pos)
    if type(length) is not int or s is None or length < 0 or s.end() + length > len(pdf):
        raise StructureError("the stream's /Length is not a direct, plausible integer")
    raw = pdf[s.end():s.end() + length]
    end = _ENDOBJ.match(pdf, s.end() + length)
    if end is None:
        raise StructureError("the stream does not end where its /Length says")
    widths = info.get("/W")
    size = info.get("/Size")
    index = info.get("/Index", [0, size])
    if (
        not isinstance(widths, list) or len(widths) != 3 or not all(type(w) is int and 0 <= w <= 8 for w in widths)
        or not isinstance(index, list) or len(index) % 2 or not all(type(i) is int and i >= 0 for i in index)
    ):
        raise StructureError("malformed /W or /Index")
    pairs = list(zip(index[::2], index[1::2]))
    count = sum(c for _, c in pairs)
    _entry_room_check(count, room, limits)
    row = sum(widths)
    data = _decode_xref_data(raw, info, row, count * row)
    if len(data) < count * row:
        raise StructureError(f"the stream holds {len(data)} bytes for {count} entries of {row}")
    entries: dict[int, tuple[str, int, int]] = {}
    problems: list[str] = []
    p = 0
    for first, n in pairs:
        for obj in range(first, first + n):
            fields_ = []
            for w in widths:
                fields_.append(int.from_bytes(data[p:p + w], "big") if w else None)
                p += w
            kind = 1 if fields_[0] is None else fields_[0]
            if obj in entries:
                problems.append(f"object {obj} is listed twice in the cross-reference stream at offset {at}")
                continue
            if kind == 0:
                entries[obj] = (FREE, fields_[2] or 0, 0)
            elif kind == 1:
                entries[obj] = (USED, fields_[2] or 0, fields_[1] or 0)
            elif kind == 2:
                entries[obj] = (COMPRESSED, 0, fields_[1] or 0)
    return Revision(at, end.end(), info, entries, num, problems)


def _decode_xref_data(raw: bytes, info: dict, row: int, expected: int) -> bytes:
    filters = info.get("/Filter")
    params = info.get("/DecodeParms")
    if isinstance(filters, list):
        if len(filters) > 1:
            raise StructureError("more than one filter on a cross-reference stream")
        filters = filters[0] if filters else None
        params = params[0] if isinstance(params, list) and params else params
    if filters is None:
        data = raw
    elif filters in ("/FlateDecode", "/Fl"):
        cap = expected + (expected // max(row, 1)) + 4096  # predictor bytes, slack
        d = zlib.decompressobj()
        try:
            data = d.decompress(raw, cap)
        except zlib.error as exc:
            raise StructureError(f"the stream does not inflate ({exc})") from None
    else:
        raise StructureError(f"unsupported cross-reference stream filter {filters}")
    if isinstance(params, dict) and type(params.get("/Predictor")) is int and params["/Predictor"] >= 10:
        columns = params.get("/Columns", 1)
        if type(columns) is not int or columns != row:
            raise StructureError("predictor /Columns does not match /W")
        data = _png_unpredict(data, row)
    return data


def _png_unpredict(data: bytes, row: int) -> bytes:
    out = bytearray()
    prev = bytearray(row)
    stride = row + 1
    for start in range(0, len(data) - row, stride):
        kind = data[start]
        cur = bytearray(data[start + 1:start + stride])
        if kind == 2:  # Up: the one PDF writers use
            cur = bytearray((a + b) & 0xFF for a, b in zip(cur, prev))
        elif kind == 1:
            for i in range(1, row):
                cur[i] = (cur[i] + cur[i - 1]) & 0xFF
        elif kind in (3, 4):
            for i in range(row):
                left = cur[i - 1] if i else 0
                up = prev[i]
                if kind == 3:
                    cur[i] = (cur[i] + ((left + up) >> 1)) & 0xFF
                else:
                    ul = prev[i - 1] if i else 0
                    pa, pb, pc = abs(up - ul), abs(left - ul), abs(left + up - 2 * ul)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                    cur[i] = (cur[i] + pred) & 0xFF
        elif kind != 0:
            raise StructureError(f"unknown PNG predictor {kind}")
        out += cur
        prev = cur
    return bytes(out)


# --- checks that need the signatures ---------------------------------------------------


def _first(problems: Iterable[str], shown: int = 5) -> list[str]:
    """At most ``shown`` messages of one kind, and how many more there were."""
    found = list(problems)
    if len(found) > shown:
        found[shown:] = [f"... and {len(found) - shown} more"]
    return found


class Inspection:
    """The structural verdicts for one file: file-level problems (every signature
    fails), and per signed revision the later changes pyHanko does not see."""

    def __init__(self, structure: Structure, reader: PdfFileReader, budget: Budget):
        self.structure = structure
        self.reader = reader
        self.budget = budget
        self._file_problems: list[str] | None = None
        self._after: dict[int, list[str]] = {}
        self._refs: list[tuple[int, int, int]] | None = None

    # file level

    def file_problems(self, first_signed: int | None) -> list[str]:
        if self._file_problems is None:
            try:
                self._file_problems = self._compute_file_problems(first_signed)
            except Exception as exc:  # noqa: BLE001 - content pyHanko cannot read: cannot vouch for it
                self._file_problems = [f"the file structure could not be checked ({type(exc).__name__})"]
        return self._file_problems

    def _compute_file_problems(self, first_signed: int | None) -> list[str]:
        st = self.structure
        problems = list(st.problems)
        if not st.revisions:
            return problems
        if st.last_startxref != self.reader.last_startxref or len(st.revisions) != self.reader.total_revisions:
            problems.append(
                "the revisions a viewer follows from the end of the file are not the ones the "
                "signature check read"
            )
            return problems
        if problems:
            return problems
        problems.extend(_first(self._entries_point_at_objects()))
        if first_signed is not None and 0 <= first_signed < len(st.revisions):
            problems.extend(_first(self._tiling(first_signed)))
        return problems

    def _entries_point_at_objects(self) -> Iterator[str]:
        pdf = self.structure.pdf
        for rev in self.structure.revisions:
            self.budget.check()
            for num, (kind, gen, where) in rev.entries.items():
                if kind != USED or num == 0:
                    continue
                m = _OBJ_HEADER.match(pdf, where) if where < len(pdf) else None
                if m is None or int(m.group(1)) != num or int(m.group(2)) != gen:
                    yield (
                        f"the cross-reference entry of object {num} {gen} (section at offset "
                        f"{rev.startxref}) does not point at that object"
                    )

    def _tiling(self, first_signed: int) -> Iterator[str]:
        """From the end of the first signed revision to the end of the file: nothing
        but the later revisions, in order, each ending with its own startxref/%%EOF."""
        pdf = self.structure.pdf
        revs = self.structure.revisions
        end = self._revision_end(revs[first_signed])
        if end is None:
            yield "the signed revision does not end with its startxref and %%EOF"
            return
        for index in range(first_signed + 1, len(revs)):
            rev = revs[index]
            if not end <= rev.startxref < len(pdf):
                yield f"revision {index} has its cross-reference data outside its own update"
                return
            yield from self._unlisted_objects(rev, end, rev.startxref)
            end_r = self._revision_end(rev)
            if end_r is None:
                yield f"revision {index} does not end with its startxref and %%EOF"
                return
            end = end_r
        rest = pdf[end:]
        if rest.strip(_WS):
            yield (
                f"{len(rest):,} bytes after the last revision are not part of any revision the "
                "signature check read (a viewer may show them)"
            )

    def _revision_end(self, rev: Revision) -> int | None:
        m = _MARKER.match(self.structure.pdf, rev.xref_end)
        if m is None or int(m.group(1)) != rev.startxref:
            return None
        return m.end()

    def _unlisted_objects(self, rev: Revision, start: int, stop: int) -> Iterator[str]:
        for m in _ANY_HEADER.finditer(self.structure.pdf, start, stop):
            num, gen = int(m.group(1)), int(m.group(2))
            entry = rev.entries.get(num)
            listed = (
                entry is not None and entry[0] == USED and entry[1] == gen
                and entry[2] <= m.start() and not self.structure.pdf[entry[2]:m.start()].strip(_WS)
            )
            if not listed:
                yield (
                    f"object {num} {gen} written in the update at offset {m.start()} is not in its "
                    "cross-reference section"
                )

    # per signed revision

    def changes_after(self, signed: int) -> list[str]:
        """Later changes to what revision ``signed`` shows that pyHanko lets through."""
        if signed not in self._after:
            revs = self.structure.revisions
            if not 0 <= signed < len(revs) - 1:
                self._after[signed] = []
            else:
                try:
                    self._after[signed] = [*self._late_definitions(signed), *self._overlays(signed)]
                except Exception as exc:  # noqa: BLE001 - content pyHanko cannot read: cannot vouch for it
                    self._after[signed] = [f"the later revisions could not be checked ({type(exc).__name__})"]
        return self._after[signed]

    def _state(self, upto: int) -> dict[int, tuple[str, int, int]]:
        state: dict[int, tuple[str, int, int]] = {}
        for rev in self.structure.revisions[: upto + 1]:
            state.update(rev.entries)
        return state

    def _late_definitions(self, signed: int) -> Iterator[str]:
        revs = self.structure.revisions
        state = self._state(signed)
        defined_later: set[tuple[int, int]] = set()
        for rev in revs[signed + 1:]:
            for num, (kind, gen, _) in rev.entries.items():
                if kind == FREE or num == 0:
                    continue
                then = state.get(num)
                if then is None or then[0] == FREE or then[1] != gen:
                    defined_later.add((num, gen))
        if not defined_later:
            return
        end = self._signed_end(signed)
        hits = {(n, g) for pos, n, g in self._references() if pos < end and (n, g) in defined_later}
        hits |= self._references_in_object_streams(signed, state, defined_later)
        for num, gen in sorted(hits):
            yield (
                f"the signed revision refers to object {num} {gen}, which did not exist when it was "
                "signed; a later update defines it and so changes what the signed pages show"
            )

    def _signed_end(self, signed: int) -> int:
        nxt = self.structure.revisions[signed + 1]
        end = self._revision_end(self.structure.revisions[signed])
        return end if end is not None else nxt.startxref

    def _references(self) -> list[tuple[int, int, int]]:
        if self._refs is None:
            self.budget.check()
            found = _REFERENCE.finditer(self.structure.pdf)
            self._refs = [(m.start(), int(m.group(1)), int(m.group(2))) for m in found]
        return self._refs

    def _references_in_object_streams(
        self, signed: int, state: dict, defined_later: set[tuple[int, int]]
    ) -> set[tuple[int, int]]:
        streams = {where for kind, _, where in state.values() if kind == COMPRESSED}
        if not streams:
            return set()
        resolver = self.reader.get_historical_resolver(signed)
        hits: set[tuple[int, int]] = set()
        for num in sorted(streams):
            self.budget.check()
            try:
                data = resolver.get_object(generic.Reference(num, 0)).data
            except Exception:  # noqa: BLE001 - unreadable: cannot show that nothing refers to later objects
                return set(defined_later)
            for m in _REFERENCE.finditer(data):
                key = (int(m.group(1)), int(m.group(2)))
                if key in defined_later:
                    hits.add(key)
        return hits

    def _direct_annotations_at(self, signed: int, page_ref) -> set[bytes]:
        """The annotations written inside the /Annots of ``page_ref`` as signed."""
        if not isinstance(page_ref, generic.IndirectObject):
            return set()
        try:
            page = self.reader.get_historical_resolver(signed).get_object(page_ref.reference)
            return {
                _serialised(raw) for raw in _annotations(page) if isinstance(raw, generic.DictionaryObject)
            }
        except Exception:  # noqa: BLE001 - not readable as signed: every such annotation counts as new
            return set()

    def _overlays(self, signed: int) -> Iterator[str]:
        last_change: dict[int, int] = {}
        for index, rev in enumerate(self.structure.revisions):
            for num in rev.entries:
                last_change[num] = index

        def later(value) -> bool:
            return isinstance(value, generic.IndirectObject) and last_change.get(value.idnum, 0) > signed

        for page_no, page_ref, page in _pages(self.reader, self.budget):
            annots = _annotations(page)
            if not annots:
                continue
            signed_direct: set[bytes] | None = None
            for raw in annots:
                annot = raw.get_object() if isinstance(raw, generic.IndirectObject) else raw
                if not isinstance(annot, generic.DictionaryObject):
                    continue
                if isinstance(raw, generic.IndirectObject):
                    changed = later(raw)
                else:  # written inside the page's /Annots: compare with the signed revision's
                    if signed_direct is None:
                        signed_direct = self._direct_annotations_at(signed, page_ref)
                    changed = _serialised(annot) not in signed_direct
                appearance = list(_appearance_parts(annot))
                changed = changed or any(later(raw) for raw, _ in appearance)
                if changed and _draws_on_page(annot, [part for _, part in appearance]):
                    label = annot.get("/T") or annot.get("/Subtype") or "an annotation"
                    yield (
                        f"{label} was added or changed after signing and draws over page {page_no}; "
                        "it can hide signed content"
                    )


def _annotations(page: generic.DictionaryObject) -> list:
    """The raw entries (references or dictionaries) of a page's /Annots."""
    if "/Annots" not in page:
        return []
    annots = page["/Annots"]
    if not isinstance(annots, generic.ArrayObject):
        return []
    return [annots.raw_get(i) for i in range(len(annots))]


def _serialised(obj: generic.PdfObject) -> bytes:
    out = io.BytesIO()
    obj.write_to_stream(out, None)
    return out.getvalue()


def _pages(reader: PdfFileReader, budget: Budget) -> Iterator[tuple[int, object, generic.DictionaryObject]]:
    """(number, reference, page dictionary) of every page, walking the page tree
    without recursion and without visiting a node twice."""
    try:
        root_pages = reader.root.raw_get("/Pages")
    except KeyError:
        return
    stack = [root_pages]
    seen: set[int] = set()
    number = 0
    while stack:
        budget.check()
        raw = stack.pop()
        if isinstance(raw, generic.IndirectObject):
            if raw.idnum in seen:
                continue
            seen.add(raw.idnum)
        node = raw.get_object() if isinstance(raw, generic.IndirectObject) else raw
        if not isinstance(node, generic.DictionaryObject):
            continue
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            kids = node.get("/Kids")
            if isinstance(kids, generic.ArrayObject):
                stack.extend(kids.raw_get(i) for i in reversed(range(len(kids))))
            continue
        number += 1
        yield number, raw, node


def _appearance_parts(annot: generic.DictionaryObject) -> Iterator[tuple[object, object]]:
    """(raw value, object) of the appearance dictionary and everything in it that can
    change what is drawn: /N, /D, /R, each a stream or a dictionary of states."""
    if "/AP" not in annot:
        return
    raw_ap = annot.raw_get("/AP")
    ap = raw_ap.get_object() if isinstance(raw_ap, generic.IndirectObject) else raw_ap
    yield raw_ap, ap
    if not isinstance(ap, generic.DictionaryObject):
        return
    for key in ("/N", "/D", "/R"):
        if key not in ap:
            continue
        raw = ap.raw_get(key)
        value = raw.get_object() if isinstance(raw, generic.IndirectObject) else raw
        yield raw, value
        if isinstance(value, generic.DictionaryObject) and not isinstance(value, generic.StreamObject):
            for state in list(value.keys()):
                sraw = value.raw_get(state)
                yield sraw, (sraw.get_object() if isinstance(sraw, generic.IndirectObject) else sraw)


def _draws_on_page(annot: generic.DictionaryObject, appearance: list) -> bool:
    try:
        flags = int(annot.get("/F", 0))
    except (TypeError, ValueError):
        flags = 0
    if flags & (2 | 32):  # Hidden, NoView: not displayed
        return False
    try:
        x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
        if abs(x1 - x0) * abs(y1 - y0) < 1.0:
            return False
    except (KeyError, TypeError, ValueError):
        pass  # no usable rectangle: assume the worst
    for stream in appearance:
        if not isinstance(stream, generic.StreamObject):
            continue
        try:
            if stream.data.strip(_WS):
                return True
        except Exception:  # noqa: BLE001 - undecodable appearance: assume it draws
            return True
    return False


# --- pyHanko's difference analysis without the empty revisions -------------------------


class ReviewPolicy(StandardDiffPolicy):
    """pyHanko's default difference policy, reviewing only the revisions that change
    something, and within the time budget. A revision with no object and the same
    trailer leaves the document state as it was, so the verdict is the same as with
    every revision reviewed, minus the N² cost (pyHanko's object lookup walks all
    revisions). With a damaged structure nothing is reviewed: the file fails anyway."""

    def __init__(self, structure: Structure, budget: Budget, base: StandardDiffPolicy = DEFAULT_DIFF_POLICY):
        super().__init__(
            global_rules=base.global_rules,
            form_rule=base.form_rule,
            reject_object_freeing=base.reject_object_freeing,
            ignore_orphaned_objects=base.ignore_orphaned_objects,
            ignore_identical_objects=base.ignore_identical_objects,
        )
        self.structure = structure
        self.budget = budget

    def review_file(self, reader, base_revision, field_mdp_spec=None, doc_mdp=None):
        st = self.structure
        if st.problems or len(st.revisions) != reader.total_revisions:
            return SuspiciousModification("the file structure is damaged; later revisions were not reviewed")
        if isinstance(base_revision, int):
            base, base_no = reader.get_historical_resolver(base_revision), base_revision
        else:
            base, base_no = base_revision, base_revision.revision
        level = ModificationLevel.NONE
        changed_fields: set[str] = set()
        for revision in range(base_no + 1, len(st.revisions)):
            if not st.reviewed(revision):
                continue
            self.budget.check()
            try:
                result = self.apply(
                    old=base, new=reader.get_historical_resolver(revision),
                    field_mdp_spec=field_mdp_spec, doc_mdp=doc_mdp,
                )
            except SuspiciousModification as exc:
                return exc
            level = max(level, result.modification_level)
            changed_fields |= result.changed_form_fields
        return DiffResult(level, changed_fields)


# --- signature fields and signatures ----------------------------------------------------


_KINDS = {
    "TextStringObject": "a string", "ByteStringObject": "a string", "NumberObject": "a number",
    "FloatObject": "a number", "NullObject": "a missing object", "ArrayObject": "an array",
    "NameObject": "a name", "BooleanObject": "a boolean", "StreamObject": "a stream",
}


def check_signature_fields(reader: PdfFileReader) -> None:
    """Raise :class:`StructureError` naming the first filled signature field whose value
    is not a signature dictionary (a string, a number, a missing object): pyHanko's
    signature collection fails on it with an unhelpful AttributeError. Costs nothing
    extra when pyHanko's collection succeeds (it is cached on the reader)."""
    try:
        reader.embedded_signatures
        return
    except Exception:  # noqa: BLE001 - find the field that broke it, or let the caller see the error
        pass
    for name, value, _ in enumerate_sig_fields(reader, filled_status=True):
        obj = value.get_object() if isinstance(value, generic.IndirectObject) else value
        if not isinstance(obj, generic.DictionaryObject):
            what = _KINDS.get(type(obj).__name__, type(obj).__name__)
            raise StructureError(f"signature field {name!s}: its value is {what}, not a signature dictionary")


def review_with(sig: EmbeddedPdfSignature, policy: "ReviewPolicy") -> EmbeddedPdfSignature:
    """Make every integrity computation of ``sig`` use ``policy``, whoever calls it
    (pyHanko's ``async_validate_pdf_signature`` passes its own default otherwise)."""
    original = sig.compute_integrity_info

    def compute_integrity_info(diff_policy=None, skip_diff=False):
        return original(diff_policy=policy, skip_diff=skip_diff)

    sig.compute_integrity_info = compute_integrity_info  # type: ignore[method-assign]
    return sig


def amend(report: SignatureReport, file_problems: Iterable[str], later_changes: Iterable[str]) -> SignatureReport:
    """The report with the structural findings applied: any finding makes the
    signature TOTAL_FAILED (FORMAT_FAILURE unless it failed for a reason of its own)."""
    file_problems, later_changes = list(file_problems), list(later_changes)
    if not file_problems and not later_changes:
        return report
    failed = report.indication is Indication.TOTAL_FAILED
    return dataclasses.replace(
        report,
        indication=Indication.TOTAL_FAILED,
        sub_indication=report.sub_indication if failed else SubIndication.FORMAT_FAILURE,
        covers_whole_document=report.covers_whole_document and not file_problems,
        modified_after_signing=True,
        notes=(*report.notes, *file_problems, *later_changes),
    )


def amend_all(reports, sigs: list[EmbeddedPdfSignature], inspection: Inspection) -> tuple[SignatureReport, ...]:
    """``reports`` (one per signature of ``sigs``, same order) with the findings applied."""
    first = min((s.signed_revision for s in sigs), default=None)
    problems = inspection.file_problems(first)
    return tuple(amend(r, problems, inspection.changes_after(s.signed_revision)) for s, r in zip(sigs, reports))

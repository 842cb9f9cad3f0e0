"""DOCX packages at the level of their zip entries: templates prepared once, filled per request,
and language versions joined, without re-reading or re-compressing what does not change.

docxtpl, as `docxtpl.DocxTemplate.render` + `save`, opens the template with python-docx for every
document (parsing every XML part), serialises the body, runs its regex patching and Jinja
compilation, parses the result back, and on save serialises and deflates every part again —
styles, theme, numbering and all, identical each time. Here a template is prepared once:

* its body and each header, footer and footnotes part go through docxtpl's own ``patch_xml`` (the
  same Jinja dialect: ``{%p``, ``{%tr``, ``{{r`` …) and are compiled once by a sandboxed,
  autoescaping Jinja environment — request data are values and can never run as template code;
* every part a render does not change is kept compressed exactly as it is in the template file.

A fill then renders the compiled parts, applies docxtpl's post-processing (``resolve_listing``:
tabs, line and page breaks in values; unique drawing ids; ``fix_tables`` only for a template that
loops over table cells — docxtpl runs it on every table and counts the cells of nested tables as
the outer table's, which gave the act's two-column layout table a third grid column), checks that
each part is well-formed XML, adds the pictures (PNG, EMF) with their relationships, writes the
core properties, and writes the zip: only the changed parts are compressed.

`compose` joins the language versions of one document (kk, then ru after a page break) the way
docxcompose does for documents made from templates like ours — the first part's styles, section
and footer serve the whole file, the appended body's pictures are carried over — and returns None
when the parts are outside what it handles (numbering, footnotes, comments, several sections,
styles missing from the first part or named differently, references other than pictures), so
that the caller uses docxcompose for them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import struct
import threading
import time
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from xml.sax.saxutils import escape as _xml_escape

import docx.oxml.ns
from docxtpl import DocxTemplate
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from docgen.errors import RenderFailed

# Importing docxtpl imports docxcompose, whose utils module maps the prefix "cp" in python-docx's
# global namespace table to the custom-properties namespace. python-docx then reads and writes the
# core properties (cp:keywords, cp:revision …) in a namespace no reader knows: the template
# version and hash the keywords carry were invisible to Word. Put the core-properties namespace
# back; docxcompose's own queries on custom properties work on plain lxml elements with its own
# table and do not depend on this entry.
docx.oxml.ns.nsmap["cp"] = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"

__all__ = ["Picture", "PreparedTemplate", "prepare", "fill", "compose", "read_entries", "write_zip"]

_DEFLATE_LEVEL = 6

NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
_RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
RT_IMAGE = _RT + "image"
RT_HEADER, RT_FOOTER, RT_FOOTNOTES = _RT + "header", _RT + "footer", _RT + "footnotes"
RT_OFFICE_DOCUMENT = _RT + "officeDocument"
CONTENT_TYPES = {"png": "image/png", "emf": "image/x-emf", "jpeg": "image/jpeg", "gif": "image/gif"}
XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
_EMU_PER_MM = 36000


# --------------------------------------------------------------------------- zip entries


@dataclass(frozen=True)
class Entry:
    """One zip member as stored: compressed bytes and what the directory says about them."""

    name: str
    raw: bytes  # stored bytes (deflated unless method is 0)
    crc: int
    size: int  # uncompressed
    method: int  # 8: deflate, 0: stored

    @classmethod
    def of(cls, name: str, data: bytes, *, level: int = _DEFLATE_LEVEL, store: bool = False) -> "Entry":
        if store:
            return cls(name, data, zlib.crc32(data), len(data), zipfile.ZIP_STORED)
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        return cls(name, c.compress(data) + c.flush(), zlib.crc32(data), len(data), zipfile.ZIP_DEFLATED)

    def data(self) -> bytes:
        if self.method == zipfile.ZIP_STORED:
            return self.raw
        return zlib.decompress(self.raw, -15)


def read_entries(docx: bytes) -> "OrderedDict[str, Entry]":
    """The members of a zip, compressed bytes kept as they are (no decompression)."""
    out: OrderedDict[str, Entry] = OrderedDict()
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        for info in z.infolist():
            if info.flag_bits & 0x1:
                raise ValueError(f"{info.filename}: encrypted zip members are not supported")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ValueError(f"{info.filename}: unsupported compression {info.compress_type}")
            off = info.header_offset
            sig, name_len, extra_len = struct.unpack_from("<I22xHH", docx, off)
            if sig != 0x04034B50:
                raise ValueError(f"{info.filename}: bad local header")
            start = off + 30 + name_len + extra_len
            raw = docx[start:start + info.compress_size]
            out[info.filename] = Entry(info.filename, raw, info.CRC, info.file_size, info.compress_type)
    return out


def _dos_time(t: time.struct_time) -> tuple[int, int]:
    return ((t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
            ((max(t.tm_year, 1980) - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday)


def write_zip(entries, when: time.struct_time | None = None) -> bytes:
    """A zip of the given entries, in order (what `zipfile` would write for them; no zip64)."""
    tm, dm = _dos_time(when or time.localtime())
    out = io.BytesIO()
    central = []
    for e in entries:
        name = e.name.encode("utf-8")
        flags = 0 if e.name.isascii() else 0x800
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, e.method, tm, dm, e.crc,
                              len(e.raw), e.size, len(name), 0))
        out.write(name)
        out.write(e.raw)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, flags, e.method,
                                   tm, dm, e.crc, len(e.raw), e.size, len(name), 0, 0, 0, 0,
                                   0o600 << 16, offset) + name)
    cd_offset = out.tell()
    for c in central:
        out.write(c)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                          out.tell() - cd_offset, cd_offset, 0))
    return out.getvalue()


# --------------------------------------------------------------------------- part helpers


def _rels_name(part: str) -> str:
    d, _, f = part.rpartition("/")
    return f"{d}/_rels/{f}.rels" if d else f"_rels/{f}.rels"


def _resolve(base_part: str, target: str) -> str:
    if target.startswith("/"):
        return target[1:]
    parts = base_part.split("/")[:-1]
    for seg in target.split("/"):
        if seg == "..":
            parts.pop()
        elif seg and seg != ".":
            parts.append(seg)
    return "/".join(parts)


@dataclass(frozen=True)
class _Rel:
    rid: str
    type: str
    target: str
    external: bool


def _parse_rels(xml: bytes | None) -> list[_Rel]:
    if not xml:
        return []
    root = etree.fromstring(xml)
    return [
        _Rel(r.get("Id"), r.get("Type"), r.get("Target"), r.get("TargetMode") == "External")
        for r in root.iter(f"{{{NS['rel']}}}Relationship")
    ]


def _next_rid(used: set[str]) -> str:
    n = 1
    while f"rId{n}" in used:
        n += 1
    return f"rId{n}"


def _rels_xml(original: bytes | None, extra: list[tuple[str, str, str]]) -> bytes:
    """The relationships part with ``(rId, type, target)`` entries added."""
    added = "".join(f'<Relationship Id="{rid}" Type="{typ}" Target="{_xml_escape(target)}"/>'
                    for rid, typ, target in extra)
    if original:
        text = original.decode("utf-8")
        i = text.rindex("</Relationships>")
        return (text[:i] + added + text[i:]).encode("utf-8")
    return (XML_DECLARATION + f'<Relationships xmlns="{NS["rel"]}">{added}</Relationships>').encode("utf-8")


def _content_types_xml(original: bytes, extensions: set[str]) -> bytes:
    """[Content_Types].xml with a Default for each given extension it lacks."""
    text = original.decode("utf-8")
    have = {m.lower() for m in re.findall(r'<Default\s+Extension="([^"]+)"', text)}
    missing = sorted(e for e in extensions if e.lower() not in have)
    if not missing:
        return original
    added = "".join(f'<Default Extension="{e}" ContentType="{CONTENT_TYPES[e]}"/>' for e in missing)
    i = text.index(">", text.index("<Types")) + 1
    return (text[:i] + added + text[i:]).encode("utf-8")


def _image_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """Pixel (PNG) or frame (EMF, 0.01 mm) size, for the aspect ratio."""
    if fmt == "png" and data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", data[16:24])
    if fmt == "emf" and len(data) >= 40:
        x0, y0, x1, y1 = struct.unpack_from("<4i", data, 24)
        return x1 - x0 + 1, y1 - y0 + 1
    return None


# --------------------------------------------------------------------------- pictures


class Picture:
    """A picture for a template placeholder (``{{ plan }}``): PNG or EMF bytes printed
    ``width_mm`` wide (height from the picture's aspect ratio unless given). Give it as a value
    at the top level of the context: `fill` connects those to the document being filled."""

    def __init__(self, data: bytes, fmt: str, width_mm: float, height_mm: float | None = None):
        if fmt not in CONTENT_TYPES:
            raise ValueError(f"unsupported picture format {fmt!r}")
        self.data, self.format, self.width_mm = data, fmt, float(width_mm)
        if height_mm is None:
            size = _image_size(data, fmt)
            if size is None or not size[0]:
                raise ValueError(f"cannot read the size of a {fmt} picture; give height_mm")
            height_mm = self.width_mm * size[1] / size[0]
        self.height_mm = float(height_mm)
        self.sha1 = hashlib.sha1(data).hexdigest()
        self._session: _Session | None = None

    def __html__(self) -> str:  # Jinja's autoescape inserts this as markup
        if self._session is None:
            raise RuntimeError("a Picture is rendered only inside fill()")
        return self._session.inline(self)

    __str__ = __html__


_INLINE = (
    '<wp:inline distT="0" distB="0" distL="0" distR="0" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<wp:extent cx="{cx}" cy="{cy}"/><wp:docPr id="{id}" name="Picture {id}"/>'
    '<wp:cNvGraphicFramePr><a:graphicFrameLocks noChangeAspect="1"/></wp:cNvGraphicFramePr>'
    '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
    '<pic:pic><pic:nvPicPr><pic:cNvPr id="{id}" name="{name}"/><pic:cNvPicPr/></pic:nvPicPr>'
    '<pic:blipFill><a:blip r:embed="{rid}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
    '<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm>'
    '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>'
    '</a:graphicData></a:graphic></wp:inline>'
)


# --------------------------------------------------------------------------- prepared templates


@dataclass
class _XmlPart:
    name: str
    head: str  # XML before the rendered text (the declaration; for the document also <w:document>)
    tail: str
    template: object  # compiled Jinja template
    fix_tables: bool
    rels: list[_Rel]
    rels_xml: bytes | None


_TC_TAGS = re.compile(r"\{%-?\s*(tc|hm|colspan)\b|\{\{-?\s*tc\b")
_CORE_RENDERED = ("creator", "description", "identifier", "language", "subject", "title")


@dataclass
class PreparedTemplate:
    """What a template's fills share: compiled parts and untouched zip members."""

    entries: OrderedDict  # name -> Entry, the template's members in order
    document: _XmlPart
    others: list[_XmlPart]  # headers, footers, footnotes
    content_types: bytes
    core_name: str | None
    core: bytes | None
    core_templated: dict = field(default_factory=dict)  # core property -> compiled template


#: Sandboxed and autoescaping: request data are values, never template code. Templates are
#: compiled with it once, when prepared.
JINJA_ENV = SandboxedEnvironment(autoescape=True)


def _patched(xml: str) -> str:
    """docxtpl's preparation of a part's XML for Jinja (its own code, so the dialect is its)."""
    src = DocxTemplate.patch_xml(None, xml)
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", src)


def _compile(xml: str, what: str):
    try:
        return JINJA_ENV.from_string(_patched(xml))
    except TemplateError as e:
        raise RenderFailed(f"{what}: {e}") from e


def prepare(data: bytes, what: str = "template") -> PreparedTemplate:
    """Read a DOCX template once: compile its body, headers, footers and footnotes."""
    entries = read_entries(data)
    datas = {name: e.data() for name, e in entries.items() if name.endswith((".xml", ".rels"))}
    root_rels = _parse_rels(datas.get("_rels/.rels"))
    main = next((_resolve("", r.target) for r in root_rels if r.type == RT_OFFICE_DOCUMENT), "word/document.xml")
    doc_rels_xml = datas.get(_rels_name(main))
    doc_rels = _parse_rels(doc_rels_xml)

    # the document: <w:document …> head, the body to render, the tail
    root = etree.fromstring(datas[main])
    body = root.find(f"{{{NS['w']}}}body")
    body_xml = etree.tostring(body, encoding="unicode")
    marker = etree.Element("qujat-body-marker")
    root.replace(body, marker)
    whole = etree.tostring(root, encoding="unicode")
    head, tail = whole.split("<qujat-body-marker/>")
    document = _XmlPart(main, XML_DECLARATION + head, tail, _compile(body_xml, f"{what} body"),
                        bool(_TC_TAGS.search(body_xml)), doc_rels, doc_rels_xml)

    others = []
    for rel in doc_rels:
        if rel.type in (RT_HEADER, RT_FOOTER, RT_FOOTNOTES) and not rel.external:
            name = _resolve(main, rel.target)
            if name not in datas:
                continue
            xml = etree.tostring(etree.fromstring(datas[name]), encoding="unicode")
            rels_xml = datas.get(_rels_name(name))
            others.append(_XmlPart(name, XML_DECLARATION, "", _compile(xml, f"{what} {name}"),
                                   bool(_TC_TAGS.search(xml)), _parse_rels(rels_xml), rels_xml))

    core_name = next((_resolve("", r.target) for r in root_rels if r.type.endswith("/core-properties")), None)
    core = datas.get(core_name) if core_name else None
    core_templated = {}
    if core:
        for el in etree.fromstring(core):
            local = etree.QName(el).localname
            if local in _CORE_RENDERED and el.text and ("{{" in el.text or "{%" in el.text):
                core_templated[local] = JINJA_ENV.from_string(el.text)
    return PreparedTemplate(entries, document, others, datas["[Content_Types].xml"],
                            core_name, core, core_templated)


_prepared: "OrderedDict[tuple, PreparedTemplate]" = OrderedDict()
_prepared_lock = threading.Lock()


def prepared(key: tuple, data: bytes, what: str) -> PreparedTemplate:
    """The prepared form of a template, made on first use and kept (64 most recent)."""
    p = _prepared.get(key)
    if p is None:
        p = prepare(data, what)
        with _prepared_lock:
            _prepared[key] = p
            while len(_prepared) > 64:
                _prepared.popitem(last=False)
    return p


# --------------------------------------------------------------------------- fill


class _Session:
    """The state of one fill: pictures placed, relationships added, drawing ids given."""

    def __init__(self, taken_names: set[str]):
        self.part: _XmlPart | None = None
        self.media: dict[str, tuple[str, Picture]] = {}  # sha1 -> (part name, picture)
        self.rels: dict[str, list[tuple[str, str, str]]] = {}  # part -> [(rId, type, target)]
        self._rel_of: dict[tuple[str, str], str] = {}
        self._taken = set(taken_names)
        self.next_id = 1000

    def inline(self, pic: Picture) -> str:
        part = self.part
        media = self.media.get(pic.sha1)
        if media is None:
            n = 1
            while f"word/media/image{n}.{pic.format}" in self._taken:
                n += 1
            name = f"word/media/image{n}.{pic.format}"
            self._taken.add(name)
            media = self.media[pic.sha1] = (name, pic)
        rid = self._rel_of.get((part.name, media[0]))
        if rid is None:
            used = {r.rid for r in part.rels} | {r[0] for r in self.rels.get(part.name, [])}
            rid = _next_rid(used)
            base = part.name.rsplit("/", 1)[0]
            target = media[0][len(base) + 1:] if media[0].startswith(base + "/") else "/" + media[0]
            self.rels.setdefault(part.name, []).append((rid, RT_IMAGE, target))
            self._rel_of[(part.name, media[0])] = rid
        self.next_id += 1
        xml = _INLINE.format(cx=round(pic.width_mm * _EMU_PER_MM), cy=round(pic.height_mm * _EMU_PER_MM),
                             id=self.next_id, name=f"{pic.format}{self.next_id}.{pic.format}", rid=rid)
        return f'</w:t></w:r><w:r><w:drawing>{xml}</w:drawing></w:r><w:r><w:t xml:space="preserve">'

    def renumber(self, xml: str) -> str:
        """Unique drawing ids across the document (docxtpl renumbers the body's from 1001)."""
        if "<wp:docPr" not in xml:
            return xml

        def one(m):
            self.next_id += 1
            return f"{m.group(1)}{self.next_id}"

        return re.sub(r'(<wp:docPr\b[^>]*?\bid=")\d+', one, xml)


_LISTING_CHARS = ("\n", "\t", "\a", "\f")


def _render_part(part: _XmlPart, session: _Session, context: dict, what: str) -> str:
    session.part = part
    try:
        xml = part.template.render(context)
    except TemplateError as e:
        raise RenderFailed(f"{what}: {e}") from e
    # docxtpl's render_xml_part, after Jinja
    xml = re.sub(r"\n<w:p([ >])", r"<w:p\1", xml)
    xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
    if any(c in xml for c in _LISTING_CHARS):
        xml = DocxTemplate.resolve_listing(None, xml)
    if part.fix_tables:
        xml = etree.tostring(DocxTemplate.fix_tables(None, xml), encoding="unicode")
    return session.renumber(xml)


def _check_xml(name: str, data: bytes, what: str) -> None:
    try:
        etree.fromstring(data)
    except etree.XMLSyntaxError as e:
        raise RenderFailed(f"{what}: the filled {name} is not well-formed XML: {e}") from None


def _w3cdtf(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _core_xml(p: PreparedTemplate, context: dict, props: dict) -> bytes:
    root = etree.fromstring(p.core)
    where = {"title": "dc", "subject": "dc", "creator": "dc", "description": "dc", "identifier": "dc",
             "language": "dc", "keywords": "cp", "created": "dcterms", "modified": "dcterms"}
    values = {k: t.render(context) for k, t in p.core_templated.items()}
    values.update(props)
    for key, value in values.items():
        tag = f"{{{NS[where[key]]}}}{key}"
        el = root.find(tag)
        if el is None:
            el = etree.SubElement(root, tag)
        if isinstance(value, dt.datetime):
            el.set(f"{{{NS['xsi']}}}type", "dcterms:W3CDTF")
            value = _w3cdtf(value)
        el.text = value
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, standalone=True)


def fill(p: PreparedTemplate, context: dict, *, properties: dict, what: str = "template") -> bytes:
    """Render a prepared template with ``context`` (values; `Picture` objects for pictures) and
    set the given core ``properties`` (title, subject, keywords, created, modified …)."""
    session = _Session(set(p.entries))
    ctx = dict(context)
    for value in ctx.values():
        if isinstance(value, Picture):
            value._session = session
    try:
        changed: dict[str, bytes] = {}
        body = _render_part(p.document, session, ctx, f"{what} body")
        changed[p.document.name] = (p.document.head + body + p.document.tail).encode("utf-8")
        for part in p.others:
            changed[part.name] = (part.head + _render_part(part, session, ctx, f"{what} {part.name}")).encode("utf-8")
    finally:
        for value in ctx.values():
            if isinstance(value, Picture):
                value._session = None
    for name, data in changed.items():
        _check_xml(name, data, what)
    for part in [p.document, *p.others]:
        if part.name in session.rels:
            changed[_rels_name(part.name)] = _rels_xml(part.rels_xml, session.rels[part.name])
    exts = {pic.format for _, pic in session.media.values()}
    if exts:
        changed["[Content_Types].xml"] = _content_types_xml(p.content_types, exts)
    if p.core is not None:  # a package without core properties gets none
        changed[p.core_name] = _core_xml(p, ctx, properties)

    out = []
    for name, entry in p.entries.items():
        out.append(Entry.of(name, changed.pop(name)) if name in changed else entry)
    for name, data in changed.items():  # parts the template did not have (a footer's rels)
        out.append(Entry.of(name, data))
    for name, pic in session.media.values():
        out.append(Entry.of(name, pic.data, store=pic.format == "png"))  # PNG is compressed already
    return write_zip(out)


# --------------------------------------------------------------------------- compose


_BODY = re.compile(r"<w:body\b[^>]*>(.*)</w:body>", re.S)
_SECT_PR = re.compile(r"<w:sectPr\b.*?</w:sectPr>|<w:sectPr\b[^>]*/>", re.S)
_REL_ATTR = re.compile(r'\br:(\w+)="([^"]*)"')
_NOT_HANDLED = ("<w:numPr", "<w:footnoteReference", "<w:endnoteReference", "<w:commentReference",
                "<w:altChunk", "<w:subDoc")
PAGE_BREAK = '<w:p><w:r><w:br w:type="page"/></w:r></w:p>'


def _split_body(xml: str) -> tuple[str, str, str, str] | None:
    """(before the body content, content without the final sectPr, that sectPr, after)."""
    m = _BODY.search(xml)
    if not m:
        return None
    content = m.group(1)
    sects = list(_SECT_PR.finditer(content))
    if len(sects) != 1 or content[sects[0].end():].strip():
        return None  # several sections, or no section properties at the end of the body
    s = sects[0]
    return xml[: m.start(1)], content[: s.start()], s.group(0), xml[m.end(1):]


_styles_cache: "OrderedDict[bytes, dict[str, str]]" = OrderedDict()


def _style_names(entry: Entry | None) -> dict[str, str]:
    """Style id -> style name of a styles part (kept per distinct part: templates repeat)."""
    if entry is None:
        return {}
    key = hashlib.sha1(entry.raw).digest()
    names = _styles_cache.get(key)
    if names is None:
        w = NS["w"]
        names = {}
        for style in etree.fromstring(entry.data()).iter(f"{{{w}}}style"):
            name = style.find(f"{{{w}}}name")
            names[style.get(f"{{{w}}}styleId")] = name.get(f"{{{w}}}val") if name is not None else None
        _styles_cache[key] = names
        while len(_styles_cache) > 64:
            _styles_cache.popitem(last=False)
    return names


def _used_styles(xml: str) -> set[str]:
    return set(re.findall(r'<w:(?:pStyle|rStyle|tblStyle)\b[^>]*\bw:val="([^"]+)"', xml))


def compose(parts: list[bytes]) -> bytes | None:
    """The first part followed, each after a page break, by the bodies of the others — or None
    when a part uses something this does not carry over (see the module docstring)."""
    docs = [read_entries(p) for p in parts]
    master = docs[0]
    main = "word/document.xml"
    if any(main not in d or "docProps/custom.xml" in d for d in docs):
        return None
    rels_name = _rels_name(main)
    master_xml = master[main].data().decode("utf-8")
    split = _split_body(master_xml)
    if split is None or any(s in split[1] for s in _NOT_HANDLED):
        return None
    before, content, sect, after = split
    master_body_open = before[before.rindex("<w:body"):]
    master_rels_xml = master[rels_name].data() if rels_name in master else None
    master_rels = _parse_rels(master_rels_xml)
    styles = next((_resolve(main, r.target) for r in master_rels if r.type == _RT + "styles"), None)
    master_styles = _style_names(master.get(styles))
    used_rids = {r.rid for r in master_rels}
    taken = set(master)
    new_rels, new_media = [], []
    pieces = [content]
    for doc in docs[1:]:
        xml = doc[main].data().decode("utf-8")
        split = _split_body(xml)
        if split is None or any(s in split[1] for s in _NOT_HANDLED):
            return None
        b, c, _, _ = split
        if b[b.rindex("<w:body"):] != master_body_open:  # other namespace declarations
            return None
        rels_list = _parse_rels(doc[rels_name].data() if rels_name in doc else None)
        doc_styles_name = next((_resolve(main, r.target) for r in rels_list if r.type == _RT + "styles"), None)
        doc_styles = _style_names(doc.get(doc_styles_name))
        # docxcompose matches styles by name and adds the missing ones: only join here when every
        # style the part uses is in the first part, under the same id and name
        if any(sid not in master_styles or doc_styles.get(sid) != master_styles[sid] for sid in _used_styles(c)):
            return None
        rels = {r.rid: r for r in rels_list}
        mapping = {}
        for attr, rid in set(_REL_ATTR.findall(c)):
            rel = rels.get(rid)
            if attr != "embed" or rel is None or rel.type != RT_IMAGE or rel.external:
                return None  # only embedded pictures are carried over here
            if rid in mapping:
                continue
            source = _resolve(main, rel.target)
            ext = source.rsplit(".", 1)[-1].lower()
            n = 1
            while f"word/media/image{n}.{ext}" in taken:
                n += 1
            target = f"word/media/image{n}.{ext}"
            taken.add(target)
            e = doc[source]
            new_media.append(Entry(target, e.raw, e.crc, e.size, e.method))
            new_rid = _next_rid(used_rids)
            used_rids.add(new_rid)
            new_rels.append((new_rid, RT_IMAGE, target[len("word/"):]))
            mapping[rid] = new_rid
        if mapping:
            c = _REL_ATTR.sub(lambda m: f'r:{m.group(1)}="{mapping.get(m.group(2), m.group(2))}"', c)
        pieces += [PAGE_BREAK, c]
    body = "".join(pieces)
    # as docxcompose does: bookmark starts, and ends, numbered from 0 over the body; drawing ids
    # numbered from 1 over the body, then the headers and footers
    for tag in ("bookmarkStart", "bookmarkEnd"):
        if f"<w:{tag}" in body:
            ids = iter(range(1 << 30))
            body = re.sub(rf'(<w:{tag}\b[^>]*?\bw:id=")\d+', lambda m: f"{m.group(1)}{next(ids)}", body)
    counter = iter(range(1, 1 << 30))
    body = re.sub(r'(<wp:docPr\b[^>]*?\bid=")\d+', lambda m: f"{m.group(1)}{next(counter)}", body)
    pic_counter = iter(range(1, 1 << 30))
    body = re.sub(r'(<pic:cNvPr\b[^>]*?\bid=")\d+', lambda m: f"{m.group(1)}{next(pic_counter)}", body)
    changed = {main: (before + body + sect + after).encode("utf-8")}
    for rel in master_rels:
        if rel.type in (RT_HEADER, RT_FOOTER) and not rel.external:
            name = _resolve(main, rel.target)
            if name in master:
                xml = master[name].data().decode("utf-8")
                if "<wp:docPr" in xml or "<pic:cNvPr" in xml:
                    xml = re.sub(r'(<wp:docPr\b[^>]*?\bid=")\d+', lambda m: f"{m.group(1)}{next(counter)}", xml)
                    xml = re.sub(r'(<pic:cNvPr\b[^>]*?\bid=")\d+',
                                 lambda m: f"{m.group(1)}{next(pic_counter)}", xml)
                    changed[name] = xml.encode("utf-8")
    if new_rels:
        changed[rels_name] = _rels_xml(master_rels_xml, new_rels)
        exts = {e.name.rsplit(".", 1)[-1].lower() for e in new_media}
        if "[Content_Types].xml" in master:
            ct = master["[Content_Types].xml"].data()
            if not exts <= set(CONTENT_TYPES):
                return None
            changed["[Content_Types].xml"] = _content_types_xml(ct, exts)
    out = [Entry.of(name, changed.pop(name)) if name in changed else e for name, e in master.items()]
    return write_zip(out + new_media)

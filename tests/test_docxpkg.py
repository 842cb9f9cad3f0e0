"""Filling and joining DOCX packages (docgen.docxpkg): the same documents docxtpl and docxcompose
make, read back as XML; sound zip packages; the fallback to docxcompose where the fast join stops."""
from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest
from lxml import etree

from docgen import docxpkg, qr
from docgen.render import compose, fill
from docgen.request import parse_request
from docgen.templates import TemplateStore, packaged_templates_dir
from docgen.views import build_view, footer_context
from tests.conftest import TYPES, example

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R_EMBED = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed"
URL = "https://qujat.test/v/TOKEN"


@pytest.fixture(scope="module")
def store():
    return TemplateStore(packaged_templates_dir())


def context(doc_type: str, lang: str, languages=None):
    request = parse_request(example(doc_type, lang))
    view = build_view(request, lang)
    return {**view.context, **footer_context(languages or (lang,), URL, "TOKEN")}, view.images


def structure(xml: bytes) -> list[tuple[str, str]]:
    """Paragraphs, tables, rows, cells, text, breaks and drawings in document order."""
    keep = {"p", "tbl", "tr", "tc", "t", "br", "tab", "drawing"}
    out = []
    for el in etree.fromstring(xml).iter():
        if not isinstance(el.tag, str) or not el.tag.startswith(W):
            continue
        local = el.tag[len(W):]
        if local in keep:
            out.append((local, el.text or "" if local == "t" else el.get(f"{W}type") or ""))
    return out


def texts(xml: bytes) -> str:
    return "".join(t.text or "" for t in etree.fromstring(xml).iter(f"{W}t"))


def docxtpl_reference(template, ctx: dict, images: dict, qr_png: bytes) -> bytes:
    """The same template filled by docxtpl itself (python-docx reads no EMF: the plan goes in as a
    PNG of the same size — only the drawings' content differs)."""
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage
    from jinja2.sandbox import SandboxedEnvironment
    from PIL import Image

    tpl = DocxTemplate(io.BytesIO(template.data))
    ctx = dict(ctx)
    ctx["qr"] = InlineImage(tpl, io.BytesIO(qr_png), width=Mm(22))
    for name, img in images.items():
        png = io.BytesIO()
        Image.new("L", (round(img.width_mm * 4), round(img.height_mm * 4)), 255).save(png, "PNG")
        ctx[name] = InlineImage(tpl, io.BytesIO(png.getvalue()), width=Mm(img.width_mm))
    tpl.render(ctx, jinja_env=SandboxedEnvironment(autoescape=True), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def part(docx: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        return z.read(name)


@pytest.mark.parametrize("doc_type", TYPES)
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_fill_gives_what_docxtpl_gives(store, doc_type, lang):
    template = store.get(doc_type, lang)
    ctx, images = context(doc_type, lang)
    png = qr.qr_png(URL)
    ours = fill(template, ctx, images, png, title="T")
    ref = docxtpl_reference(template, ctx, images, png)
    for name in ("word/document.xml", "word/footer1.xml"):
        assert structure(part(ours, name)) == structure(part(ref, name)), name
        assert texts(part(ours, name)) == texts(part(ref, name))


def test_values_are_text_and_line_breaks_become_breaks(store):
    template = store.get("address_certificate", "ru")
    ctx, images = context("address_certificate", "ru")
    ctx["address"] = "первая строка\n{{ 7*7 }} <w:br/> & «кавычки»"
    doc = part(fill(template, ctx, images, qr.qr_png(URL)), "word/document.xml")
    body = structure(doc)
    i = body.index(("t", "первая строка"))
    assert body[i + 1] == ("br", "") and body[i + 2] == ("t", "{{ 7*7 }} <w:br/> & «кавычки»")
    assert "49" not in texts(doc)


def test_filled_package_is_sound(store):
    template = store.get("land_right_act", "kk")
    ctx, images = context("land_right_act", "kk")
    docx = fill(template, ctx, images, qr.qr_png(URL), title="Заголовок")
    with zipfile.ZipFile(io.BytesIO(docx)) as z, zipfile.ZipFile(io.BytesIO(template.data)) as t:
        assert z.testzip() is None
        names = z.namelist()
        assert len(names) == len(set(names))
        # what a fill does not touch is the template's, byte for byte
        for name in ("word/styles.xml", "word/numbering.xml", "word/theme/theme1.xml", "word/settings.xml"):
            assert z.read(name) == t.read(name)
        core = etree.fromstring(z.read("docProps/core.xml"))
        ns = {"cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
              "dc": "http://purl.org/dc/elements/1.1/"}
        assert core.findtext("cp:keywords", namespaces=ns) == (
            f"template kk/land_right_act v{template.version} sha256:{template.sha256}")
        assert core.findtext("dc:title", namespaces=ns) == "Заголовок"
        types = z.read("[Content_Types].xml").decode()
        assert 'Extension="png" ContentType="image/png"' in types
        assert 'Extension="emf" ContentType="image/x-emf"' in types
        # every picture's relationship points at a part that is there, holding that picture
        for source in ("word/document.xml", "word/footer1.xml"):
            rels = etree.fromstring(z.read(source.replace("word/", "word/_rels/") + ".rels"))
            targets = {r.get("Id"): "word/" + r.get("Target") for r in rels}
            embeds = [b.get(R_EMBED) for b in etree.fromstring(z.read(source)).iter(
                "{http://schemas.openxmlformats.org/drawingml/2006/main}blip")]
            assert embeds
            for rid in embeds:
                assert targets[rid] in names
        assert z.read("word/media/image1.emf") == images["plan"].data
        ids = re.findall(rb'<wp:docPr id="(\d+)"', z.read("word/document.xml") + z.read("word/footer1.xml"))
        assert len(ids) == len(set(ids)) == 2


def _media_in_order(docx: bytes) -> list[str]:
    """Hashes of the pictures the body shows, in order."""
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        rels = {r.get("Id"): r.get("Target") for r in etree.fromstring(z.read("word/_rels/document.xml.rels"))}
        body = etree.fromstring(z.read("word/document.xml"))
        return [hashlib.sha256(z.read("word/" + rels[b.get(R_EMBED)])).hexdigest()
                for b in body.iter("{http://schemas.openxmlformats.org/drawingml/2006/main}blip")]


def _docxcompose(parts: list[bytes]) -> bytes:
    return compose(parts, fast=False)


def _parts(store, doc_type: str) -> list[bytes]:
    png = qr.qr_png(URL)
    out = []
    for lang in ("kk", "ru"):
        ctx, images = context(doc_type, lang, ("kk", "ru"))
        out.append(fill(store.get(doc_type, lang), ctx, images, png))
    return out


@pytest.mark.parametrize("doc_type", TYPES)
def test_compose_gives_what_docxcompose_gives(store, doc_type):
    parts = _parts(store, doc_type)
    ours = docxpkg.compose(parts)
    assert ours is not None, "our templates are joined without docxcompose"
    ref = _docxcompose(parts)
    assert structure(part(ours, "word/document.xml")) == structure(part(ref, "word/document.xml"))
    assert _media_in_order(ours) == _media_in_order(ref)
    assert part(ours, "word/footer1.xml") and texts(part(ours, "word/footer1.xml")) == texts(part(ref, "word/footer1.xml"))
    doc = part(ours, "word/document.xml").decode()
    assert doc.count('<w:br w:type="page"/>') == 1 and doc.count("<w:sectPr") == 1
    ids = re.findall(r'<wp:docPr id="(\d+)"', doc + part(ours, "word/footer1.xml").decode())
    assert len(ids) == len(set(ids))
    with zipfile.ZipFile(io.BytesIO(ours)) as z:
        assert z.testzip() is None


def _with_first_paragraph_prefixed(docx: bytes, xml: str) -> bytes:
    entries = docxpkg.read_entries(docx)
    doc = entries["word/document.xml"].data().decode().replace("<w:p>", "<w:p>" + xml, 1)
    return docxpkg.write_zip([docxpkg.Entry.of(n, doc.encode()) if n == "word/document.xml" else e
                              for n, e in entries.items()])


def test_compose_numbers_bookmarks_as_docxcompose_does(store):
    parts = _parts(store, "address_certificate")
    mark = '<w:bookmarkStart w:id="7" w:name="_GoBack"/><w:bookmarkEnd w:id="7"/>'
    parts = [_with_first_paragraph_prefixed(p, mark) for p in parts]
    ours, ref = docxpkg.compose(parts), _docxcompose(parts)
    assert ours is not None
    ids = [re.findall(r'<w:bookmark(Start|End)\b[^>]*w:id="(\d+)"', part(d, "word/document.xml").decode())
           for d in (ours, ref)]
    assert ids[0] == ids[1] == [("Start", "0"), ("End", "0"), ("Start", "1"), ("End", "1")]


def test_compose_leaves_what_it_does_not_handle_to_docxcompose(store):
    parts = _parts(store, "address_certificate")
    numbered = _with_first_paragraph_prefixed(parts[1], "")
    entries = docxpkg.read_entries(numbered)
    doc = entries["word/document.xml"].data().decode().replace(
        "<w:pPr>", '<w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>', 1)
    numbered = docxpkg.write_zip([docxpkg.Entry.of(n, doc.encode()) if n == "word/document.xml" else e
                                  for n, e in entries.items()])
    assert docxpkg.compose([parts[0], numbered]) is None
    joined = compose([parts[0], numbered])  # through docxcompose, which renumbers the list
    body = part(joined, "word/document.xml").decode()
    assert "<w:numPr>" in body and body.count('<w:br w:type="page"/>') == 1
    assert texts(part(parts[1], "word/document.xml"))[:40] in texts(body.encode())


def test_zip_entries_round_trip():
    entries = [docxpkg.Entry.of("a.xml", b"<a/>" * 100), docxpkg.Entry.of("b/ü.bin", bytes(range(256)), store=True)]
    data = docxpkg.write_zip(entries)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        assert z.read("a.xml") == b"<a/>" * 100 and z.read("b/ü.bin") == bytes(range(256))
        assert [i.compress_type for i in z.infolist()] == [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]
    again = docxpkg.read_entries(data)
    assert [e.raw for e in again.values()] == [e.raw for e in entries]

"""The Word templates: versioned, hashed, well-formed, and every tag in one piece."""
from __future__ import annotations

import re
import zipfile

import pytest
from docxtpl import DocxTemplate

from docgen.templates import TemplateStore, packaged_templates_dir
from tests.conftest import ROOT, TYPES

PAIRS = [(t, lang) for t in TYPES for lang in ("kk", "ru")]


@pytest.mark.parametrize("doc_type,lang", PAIRS)
def test_manifest_version_and_hash_match_the_file(doc_type, lang):
    store = TemplateStore(packaged_templates_dir())
    t = store.get(doc_type, lang)
    assert re.fullmatch(r"\d+\.\d+", t.version)
    assert t.sha256 == store.declared_sha256(doc_type, lang), (
        f"templates/{lang}/{doc_type}.docx changed: bump its version and sha256 in manifest.yaml")


@pytest.mark.parametrize("doc_type,lang", PAIRS)
def test_template_is_a4_with_jinja_tags_intact(doc_type, lang):
    path = ROOT / "templates" / lang / f"{doc_type}.docx"
    with zipfile.ZipFile(path) as z:
        xml = z.read("word/document.xml").decode() + z.read("word/footer1.xml").decode()
    text = re.sub(r"<[^>]+>", "", xml)
    assert text.count("{{") == text.count("}}") and text.count("{%") == text.count("%}")
    # a tag split across runs would show as '{' followed by XML inside the tag
    for m in re.finditer(r"\{[{%].*?[}%]\}", xml, flags=re.S):
        assert "<w:" not in m.group(0), f"tag split across runs: {m.group(0)[:80]}"
    assert "{{ qr }}" in text and "footer_lines" in text and "verification_url" in text
    from docx import Document

    doc = Document(str(path))
    assert doc.sections[0].page_width.mm == pytest.approx(210, abs=0.5)
    assert doc.sections[0].page_height.mm == pytest.approx(297, abs=0.5)
    assert doc.styles["Normal"].font.name == "Times New Roman"
    assert {"Doc Title", "Table Grid", "Footer Text"} <= {s.name for s in doc.styles}


@pytest.mark.parametrize("doc_type,lang", PAIRS)
def test_template_variables_are_provided_by_the_view(doc_type, lang, make_request):
    """Every variable a template uses is in the context the view model builds."""
    from docgen.qr import verification_url
    from docgen.request import parse_request
    from docgen.views import build_view, footer_context

    path = ROOT / "templates" / lang / f"{doc_type}.docx"
    used = DocxTemplate(str(path)).get_undeclared_template_variables()
    view = build_view(parse_request(make_request(doc_type, lang)), lang)
    provided = set(view.context) | set(view.images) | {"qr"} | set(footer_context((lang,), verification_url("http://x", "t"), "t"))
    assert used <= provided, f"template uses variables the view does not give: {used - provided}"

"""Write the first versions of the Word templates (templates/<lang>/<type>.docx).

The DOCX files are the source of truth afterwards: clerks edit them in Word or LibreOffice and bump
the version in templates/manifest.yaml. This script only bootstraps them, with real Word styles
and each Jinja tag in a single run (a tag split across runs is docxtpl's most common pitfall), and
refuses to overwrite a template unless given --force.

    python tools/build_templates.py [--force] [TYPE ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

ROOT = Path(__file__).resolve().parents[1]
FONT = "Times New Roman"  # LibreOffice renders it with the metric-compatible Liberation Serif


# --- document scaffolding ------------------------------------------------------------------------

def _set_font(style, size: float, bold: bool = False) -> None:
    style.font.name = FONT
    style.font.size = Pt(size)
    style.font.bold = bold
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), FONT)


KEEP_STYLES = {"Normal", "Default Paragraph Font", "Normal Table", "No List", "Table Grid", "Footer", "Header"}


def slim(doc) -> None:
    """python-docx's default package carries ~800 KB of styles for every Word built-in, a legacy
    stylesWithEffects part, a thumbnail and customXml. Keep only what the templates use: every
    render parses and re-compresses each part, so this is most of the fill time."""
    for st in list(doc.styles):
        if st.name not in KEEP_STYLES and not st.name.startswith(("Doc ", "Table ", "Footer ", "Caption ")):
            st.element.getparent().remove(st.element)
    latent = doc.styles.element.find(qn("w:latentStyles"))
    if latent is not None:
        latent.getparent().remove(latent)
    for rid, rel in list(doc.part.rels.items()):
        if rel.reltype.endswith(("/stylesWithEffects", "/customXml")):
            doc.part.drop_rel(rid)
    pkg = doc.part.package
    for rid, rel in list(pkg.rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del pkg.rels[rid]


def new_document(lang: str) -> Document:
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.left_margin, sec.right_margin = Mm(25), Mm(12)
    sec.top_margin, sec.bottom_margin = Mm(15), Mm(12)
    sec.footer_distance = Mm(6)
    styles = doc.styles
    normal = styles["Normal"]
    _set_font(normal, 10.5)
    normal.paragraph_format.space_after = Pt(2)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.line_spacing = 1.0
    # language of the text, so that Word's spell checker and hyphenation pick the right dictionary
    lang_el = OxmlElement("w:lang")
    lang_el.set(qn("w:val"), "kk-KZ" if lang == "kk" else "ru-RU")
    normal.element.get_or_add_rPr().append(lang_el)
    for name, size, bold, align in (
        ("Doc Title", 13, True, WD_ALIGN_PARAGRAPH.CENTER),
        ("Doc Subtitle", 11, False, WD_ALIGN_PARAGRAPH.CENTER),
        ("Doc Issuer", 10, False, WD_ALIGN_PARAGRAPH.CENTER),
        ("Doc Heading", 11, True, WD_ALIGN_PARAGRAPH.LEFT),
        ("Table Text", 10, False, WD_ALIGN_PARAGRAPH.LEFT),
        ("Table Head", 9, True, WD_ALIGN_PARAGRAPH.CENTER),
        ("Footer Text", 7.5, False, WD_ALIGN_PARAGRAPH.LEFT),
        ("Caption Small", 8, False, WD_ALIGN_PARAGRAPH.CENTER),
    ):
        st = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        st.base_style = normal
        _set_font(st, size, bold)
        st.paragraph_format.alignment = align
        st.paragraph_format.space_after = Pt(1 if "Table" in name or "Footer" in name else 3)
    styles["Doc Title"].paragraph_format.space_before = Pt(6)
    styles["Doc Heading"].paragraph_format.space_before = Pt(5)
    styles["Doc Heading"].paragraph_format.keep_with_next = True
    core = doc.core_properties
    # the issuing body, in the document's language (the PDF's Author); the view gives it. Written
    # into the core properties as text by lxml, so not escaped here.
    core.author = "{{ author|safe }}"
    core.language = "kk-KZ" if lang == "kk" else "ru-RU"
    _footer(doc, lang)
    # python-docx starts with one empty paragraph; drop it so the body begins with our content
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)
    return doc


def _widths(table, widths_mm) -> None:
    """Column widths in the grid (LibreOffice reads these) and in every cell (Word reads those)."""
    for col, w in zip(table.columns, widths_mm):
        col.width = Mm(w)
    for row in table.rows:
        for cell, w in zip(row.cells, widths_mm):
            cell.width = Mm(w)


def _no_borders(table) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tbl_pr.append(borders)


def _footer(doc, lang: str) -> None:
    """QR code of the verification URL, the code as text, the URL and the equivalence sentence."""
    footer = doc.sections[0].footer
    footer.is_linked_to_previous = False
    first = footer.paragraphs[0]
    table = footer.add_table(rows=1, cols=2, width=Mm(173))
    _no_borders(table)
    table.autofit = False
    _widths(table, (25, 148))
    left, right = table.rows[0].cells
    lp = left.paragraphs[0]
    lp.style = doc.styles["Footer Text"]
    lp.add_run("{{ qr }}")
    rp = right.paragraphs[0]
    rp.style = doc.styles["Footer Text"]
    rp.add_run("{{ footer_caption }}: {{ verification_url }}")
    p = right.add_paragraph(style="Footer Text")
    p.add_run("{{ footer_code_caption }}: {{ verification_code }}")
    p = right.add_paragraph(style="Footer Text")
    p.add_run("{%p for line in footer_lines %}")
    p = right.add_paragraph(style="Footer Text")
    p.add_run("{{ line }}")
    p = right.add_paragraph(style="Footer Text")
    p.add_run("{%p endfor %}")
    # keep the mandatory empty paragraph after the table, but make it tiny
    first._p.getparent().remove(first._p)
    tail = footer.add_paragraph(style="Footer Text")
    tail.paragraph_format.space_after = Pt(0)


def para(doc, text: str, style: str | None = None, bold: bool = False, align=None):
    p = doc.add_paragraph(style=style)
    run = p.add_run(text)
    run.bold = bold or None
    if align is not None:
        p.alignment = align
    return p


def labelled(doc, label: str, value: str, style: str | None = None):
    """«Label: value» with the label in bold."""
    p = doc.add_paragraph(style=style)
    p.add_run(label + ": ").bold = True
    p.add_run(value)
    return p


def tag(doc, text: str):
    """A paragraph holding only a docxtpl block tag ({%p …%}); docxtpl removes it on render."""
    return para(doc, text)


def table(doc, header: list[str], loop: str | None, cells: list[str], widths_mm: list[float],
          total: list[str] | None = None, into=None, right: tuple[int, ...] = ()):
    """A bordered table; when `loop` is given, the data row repeats with {%tr for … %}.

    `into` is a table cell to nest the table in (default: the document body); the columns listed
    in `right` (numbers) are right-aligned below the header."""
    rows = 1 + (3 if loop else 1) + (1 if total else 0)
    t = (into or doc).add_table(rows=rows, cols=len(header))
    t.style = doc.styles["Table Grid"]
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False

    def fill(row, texts, style):
        for cell, text in zip(row.cells, texts):
            p = cell.paragraphs[0]
            p.style = doc.styles[style]
            p.add_run(text)

    fill(t.rows[0], header, "Table Head")
    i = 1
    if loop:
        fill(t.rows[1], [loop] + [""] * (len(header) - 1), "Table Text")
        fill(t.rows[2], cells, "Table Text")
        fill(t.rows[3], ["{%tr endfor %}"] + [""] * (len(header) - 1), "Table Text")
        i = 4
    else:
        fill(t.rows[1], cells, "Table Text")
        i = 2
    if total:
        fill(t.rows[i], total, "Table Text")
    for row in t.rows[1:]:
        for col in right:
            row.cells[col].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _widths(t, widths_mm)
    # repeat the header row on every page
    trpr = t.rows[0]._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)
    return t


def signature_block(doc, position: str, name: str, seal: str, caption: str | None = None):
    """Position | seal place | name; a form's caption («(Ф.И.О. руководителя)») stands under the
    name, in the name's own cell."""
    t = doc.add_table(rows=1, cols=3)
    _no_borders(t)
    _widths(t, (80, 25, 68))
    c0, c1, c2 = t.rows[0].cells
    c0.paragraphs[0].add_run(position)
    c1.paragraphs[0].add_run(seal)
    c1.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    c2.paragraphs[0].add_run(name).bold = True
    c2.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if caption:
        cap = c2.add_paragraph(style="Caption Small")
        cap.add_run(caption)
        cap.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    return t


def issuer_header(doc):
    tag(doc, "{%p if issuer_name %}")
    para(doc, "{{ issuer_name }}", style="Doc Issuer")
    tag(doc, "{%p endif %}")


# --- the five document types ---------------------------------------------------------------------

T = {
    "kk": {
        "no": "№", "date": "Күні", "cadastral_number": "Жер учаскесінің кадастрлық нөмірі",
        "area": "Жер учаскесінің алаңы, га", "category": "Жерлердің санаты",
        "use": "Жер учаскесінің нысаналы мақсаты",
        "restrictions": "Жер учаскесін пайдаланудағы шектеулер мен ауыртпалықтар",
        "divisible": "Жер учаскесінің бөлінетіндігі", "term": "Құқық мерзімі",
        "basis": "Құқықтың туындау негізі", "address": "Жер учаскесінің мекенжайы (орналасқан жері)",
        "plan": "Жер учаскесінің жоспары (сызбасы)", "scale": "Масштабы",
        "coords": "Бұрылыс нүктелері координаттарының каталогы",
        "point": "Нүкте", "line": "Сызық", "length": "Ұзындығы, м",
        "adjacent": "Сыбайлас жерлердің сипаттамасы", "from_to": "{{ a.from }}–{{ a.to }} сызығы бойынша",
        "seal": "М.О.", "signature": "(қолы)", "issued": "Акт дайындалған күні",
        "computed": "Координаттар бойынша есептелген алаң",
    },
    "ru": {
        "no": "№", "date": "Дата", "cadastral_number": "Кадастровый номер земельного участка",
        "area": "Площадь земельного участка, га", "category": "Категория земель",
        "use": "Целевое назначение земельного участка",
        "restrictions": "Ограничения в использовании и обременения земельного участка",
        "divisible": "Делимость земельного участка", "term": "Срок права",
        "basis": "Основание возникновения права", "address": "Адрес (местоположение) земельного участка",
        "plan": "План (чертеж) земельного участка", "scale": "Масштаб",
        "coords": "Каталог координат поворотных точек",
        "point": "Точка", "line": "Линия", "length": "Длина, м",
        "adjacent": "Описание смежеств", "from_to": "от {{ a.from }} до {{ a.to }}",
        "seal": "М.П.", "signature": "(подпись)", "issued": "Дата изготовления акта",
        "computed": "Площадь, вычисленная по координатам",
    },
}


def build_land_right_act(lang: str) -> Document:
    t = T[lang]
    doc = new_document(lang)
    issuer_header(doc)
    tag(doc, "{%p if duplicate_mark %}")
    para(doc, "{{ duplicate_mark }}", style="Doc Title")
    tag(doc, "{%p endif %}")
    para(doc, "{{ title_caps }}", style="Doc Title")
    para(doc, f"{t['no']}\u00a0{{{{ act_number }}}}", style="Doc Subtitle")
    labelled(doc, t["cadastral_number"], "{{ plot.cadastral_number }}")
    labelled(doc, "{{ holder_caption }}", "")
    tag(doc, "{%p for h in holders %}")
    para(doc, "{{ h.line }}")
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p if term %}")
    labelled(doc, t["term"], "{{ term }}")
    tag(doc, "{%p endif %}")
    labelled(doc, t["address"], "{{ plot.address }}")
    labelled(doc, t["area"], "{{ plot.area_ha }}")
    labelled(doc, t["category"], "{{ plot.land_category }}")
    labelled(doc, t["use"], "{{ plot.intended_use }}")
    labelled(doc, t["restrictions"], "{{ plot.restrictions | join('; ') }}")
    labelled(doc, t["divisible"], "{{ plot.divisible }}")
    labelled(doc, t["basis"], "{{ basis }}")
    para(doc, f"{t['plan']}", style="Doc Heading")
    # plan on the left, coordinate catalogue on the right
    lay = doc.add_table(rows=1, cols=2)
    _no_borders(lay)
    _widths(lay, (100, 73))
    lcell, rcell = lay.rows[0].cells
    lcell.paragraphs[0].add_run("{{ plan }}")
    lcell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    rp = rcell.paragraphs[0]
    rp.style = doc.styles["Table Head"]
    rp.add_run(t["coords"])
    # leading spaces keep the Latin axis letters apart from the Cyrillic caption in plain-text scans
    table(doc, [t["point"], " X, м", " Y, м"], "{%tr for p in points %}",
          ["{{ p.name }}", "{{ p.x }}", "{{ p.y }}"], [13, 29, 29], into=rcell)
    rcell.add_paragraph(style="Table Text")
    table(doc, [t["line"], t["length"]], "{%tr for s in segments %}",
          ["{{ s.from }}–{{ s.to }}", "{{ s.length }}"], [20, 30], into=rcell)
    p = rcell.add_paragraph(style="Table Text")
    p.add_run(f"{t['computed']}: {{{{ computed_area_ha }}}} га")
    tag(doc, "{%p if adjacent %}")
    para(doc, t["adjacent"], style="Doc Heading")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p for a in adjacent %}")
    para(doc, t["from_to"] + ": {{ a.description }}", style="Table Text")
    tag(doc, "{%p endfor %}")
    para(doc, "")
    tag(doc, "{%p if signer_name %}")
    signature_block(doc, "{{ signer_position }}", "{{ signer_name }}", t["seal"])
    tag(doc, "{%p endif %}")
    labelled(doc, t["issued"], "{{ issued_on }}")
    return doc


T_CI = {
    "kk": {
        "as_of": "Мәліметтер {{ as_of }} жағдай бойынша", "request": "Сұраудың нөмірі",
        "holders": "Құқық иеленуші", "right": "Құқық түрі", "docs": "Құқық белгілеуші құжаттар",
        "kind": "Құжаттың түрі", "number": "Нөмірі", "date": "Күні",
        "value": "Кадастрлық (бағалау) құны, теңге", "issued": "Берілген күні",
    },
    "ru": {
        "as_of": "Сведения по состоянию на {{ as_of }}", "request": "Номер запроса",
        "holders": "Правообладатель", "right": "Вид права", "docs": "Правоустанавливающие документы",
        "kind": "Вид документа", "number": "Номер", "date": "Дата",
        "value": "Кадастровая (оценочная) стоимость, тенге", "issued": "Дата выдачи",
    },
}


def build_cadastral_information(lang: str) -> Document:
    t, a = T_CI[lang], T[lang]
    doc = new_document(lang)
    issuer_header(doc)
    para(doc, "{{ title }}", style="Doc Title")
    para(doc, t["as_of"], style="Doc Subtitle")
    tag(doc, "{%p if request_number %}")
    labelled(doc, t["request"], "{{ request_number }}")
    tag(doc, "{%p endif %}")
    labelled(doc, a["cadastral_number"], "{{ plot.cadastral_number }}")
    labelled(doc, a["address"], "{{ plot.address }}")
    labelled(doc, a["area"], "{{ plot.area_ha }}")
    labelled(doc, a["category"], "{{ plot.land_category }}")
    labelled(doc, a["use"], "{{ plot.intended_use }}")
    labelled(doc, a["restrictions"], "{{ plot.restrictions | join('; ') }}")
    labelled(doc, a["divisible"], "{{ plot.divisible }}")
    labelled(doc, t["right"], "{{ right }}")
    tag(doc, "{%p if term %}")
    labelled(doc, a["term"], "{{ term }}")
    tag(doc, "{%p endif %}")
    labelled(doc, t["holders"], "")
    tag(doc, "{%p for h in holders %}")
    para(doc, "{{ h.line }}")
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p if title_documents %}")
    para(doc, t["docs"], style="Doc Heading")
    table(doc, [t["kind"], t["number"], t["date"]], "{%tr for d in title_documents %}",
          ["{{ d.kind }}", "{{ d.number }}", "{{ d.date }}"], [105, 40, 28])
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if cadastral_value %}")
    labelled(doc, t["value"], "{{ cadastral_value }}")
    tag(doc, "{%p endif %}")
    para(doc, "")
    tag(doc, "{%p if signer_name %}")
    signature_block(doc, "{{ signer_position }}", "{{ signer_name }}", "")
    tag(doc, "{%p endif %}")
    labelled(doc, t["issued"], "{{ issued_on }}")
    return doc


T_AC = {
    "kk": {
        "service": "«Қазақстан Республикасының аумағында жылжымайтын мүлік объектілерінің мекенжайын анықтау жөнінде анықтама беру» мемлекеттік қызметі",
        "object": "Объектінің түрі", "previous": "Бұрынғы мекенжай", "rka": "Мекенжайдың тіркеу коды",
        "cadastral": "Кадастрлық нөмірі", "basis": "Негіздеме",
        "registered": "Мекенжай «Мекенжай тіркелімі» ақпараттық жүйесінде тіркелді.",
        "applicant": "Өтініш беруші", "issued": "Берілген күні",
    },
    "ru": {
        "service": "Государственная услуга «Выдача справки по определению адреса объектов недвижимости на территории Республики Казахстан»",
        "object": "Вид объекта", "previous": "Прежний адрес", "rka": "Регистрационный код адреса",
        "cadastral": "Кадастровый номер", "basis": "Основание",
        "registered": "Адрес зарегистрирован в информационной системе «Адресный регистр».",
        "applicant": "Заявитель", "issued": "Дата выдачи",
    },
}


def build_address_certificate(lang: str) -> Document:
    t = T_AC[lang]
    doc = new_document(lang)
    issuer_header(doc)
    para(doc, "{{ title_caps }}", style="Doc Title")
    para(doc, "{{ operation_phrase }}", style="Doc Subtitle")
    tag(doc, "{%p if certificate_number %}")
    para(doc, "№\u00a0{{ certificate_number }}", style="Doc Subtitle")
    tag(doc, "{%p endif %}")
    para(doc, t["service"], style="Caption Small")
    tag(doc, "{%p if applicant %}")
    labelled(doc, t["applicant"], "{{ applicant.line }}")
    tag(doc, "{%p endif %}")
    labelled(doc, t["object"], "{{ object_kind }}")
    labelled(doc, "{{ address_caption }}", "{{ address }}")
    tag(doc, "{%p if previous_address %}")
    labelled(doc, t["previous"], "{{ previous_address }}")
    tag(doc, "{%p endif %}")
    labelled(doc, t["rka"], "{{ rka }}")
    tag(doc, "{%p if cadastral_number %}")
    labelled(doc, t["cadastral"], "{{ cadastral_number }}")
    tag(doc, "{%p endif %}")
    labelled(doc, t["basis"], "{{ basis }}")
    tag(doc, "{%p if registered_in_register %}")
    para(doc, t["registered"])
    tag(doc, "{%p endif %}")
    para(doc, "")
    tag(doc, "{%p if signer_name %}")
    signature_block(doc, "{{ signer_position }}", "{{ signer_name }}", "")
    tag(doc, "{%p endif %}")
    labelled(doc, t["issued"], "{{ issued_on }}")
    return doc


# Seed 003 annex 3 (ru) and seed 002 standard 11 annex 3 (kk): wording kept, garbling of item 1 in
# the Kazakh original mended. A filled act names the applicant in the sentence (the view declines
# the name) instead of the blank form's captions under it. The titles are in docgen/labels.yaml.
T_CV = {
    "kk": {
        "p1": "1. Акті {{ applicant_phrase }} {{ valuation_reason }} мақсатында жер учаскесін бағалауға байланысты өтінімі негізінде жасалды.",
        "p2": "2. Жер учаскесінің пайдалану мақсаты", "p3": "3. Жер учаскесінің орналасқан жері",
        "p4": "4. Жер учаскесінің бағалау құнының есебі (жер пайдалану құқығы)",
        "cols": ["Аймақ нөмірі (елді мекен жерлеріне), алқап түрлері, топырақтың үлгісі (ауыл шаруашылығы мақсатындағы жерлерге)",
                 "Көлемі, {{ area_unit }}", "Базалық ставкасы, теңге", "Түзету коэффициенті", "Бағалау құны, теңге"],
        "total": "Барлығы",
        "p5": "5. Жер учаскесінің кадастрлық (бағалау) құны {{ total }} теңге ({{ total_words }}) құрайды.",
        "words_cap": "(жазбаша сомасы)",
        "by": "Осы акт анықталды", "by_cap": "(жер кадастрын жүргізетін кәсіпорынның атауы)",
        "seal": "М.О.", "head_cap": "(басшының тегі, аты, әкесінің аты)",
        "auth_cap": "(уәкілетті орган бастығының тегі, аты, әкесінің аты)",
        "date": "Күні", "no": "№",
    },
    "ru": {
        "p1": "1. Акт составлен в соответствии с заявлением {{ applicant_phrase }} в связи с оценкой земельного участка: {{ valuation_reason }}.",
        "p2": "2. Целевое использование земельного участка", "p3": "3. Местоположение земельного участка",
        "p4": "4. Расчет оценочной стоимости земельного участка (права землепользования)",
        "cols": ["Номер зоны (для земель населенных пунктов), виды угодий, типы почв (для земель сельскохозяйственного назначения)",
                 "Площадь, {{ area_unit }}", "Базовая ставка, тенге", "Поправочный коэффициент", "Оценочная стоимость, тенге"],
        "total": "Итого",
        "p5": "5. Оценочная стоимость земельного участка (права землепользования) составляет {{ total }} тенге ({{ total_words }}).",
        "words_cap": "(сумма прописью)",
        "by": "Настоящий акт определен", "by_cap": "(наименование предприятия, ведущего земельный кадастр)",
        "seal": "М.П.", "head_cap": "(Ф.И.О. руководителя)",
        "auth_cap": "(Ф.И.О. начальника уполномоченного органа)",
        "date": "Дата", "no": "№",
    },
}


def build_cadastral_value_act(lang: str) -> Document:
    t = T_CV[lang]
    doc = new_document(lang)
    para(doc, "{{ title_caps }}", style="Doc Title")
    tag(doc, "{%p if act_number %}")
    para(doc, f"{t['no']}\u00a0{{{{ act_number }}}}", style="Doc Subtitle")
    tag(doc, "{%p endif %}")
    para(doc, t["p1"])  # left-aligned, as every other paragraph of the act
    labelled(doc, t["p2"], "{{ intended_use }}")
    labelled(doc, t["p3"], "{{ location }}")
    para(doc, t["p4"], style="Doc Heading")
    table(doc, t["cols"], "{%tr for r in rows %}",
          ["{{ r.zone }}", "{{ r.area }}", "{{ r.base_rate }}", "{{ r.coefficient }}", "{{ r.value }}"],
          [54, 22, 30, 31, 36], total=[t["total"], "{{ total_area }}", "", "", "{{ total }}"],
          right=(1, 2, 3, 4))
    para(doc, "")
    para(doc, t["p5"])
    para(doc, t["words_cap"], style="Caption Small")
    labelled(doc, t["by"], "{{ enterprise_name }}")
    para(doc, t["by_cap"], style="Caption Small")
    para(doc, "")
    signature_block(doc, "{{ enterprise_head_position }}", "{{ enterprise_head_name }}", t["seal"], t["head_cap"])
    signature_block(doc, "{{ authority_head_position }}", "{{ authority_head_name }}", t["seal"], t["auth_cap"])
    labelled(doc, t["date"], "{{ issued_on }}")
    return doc


# The appeal sentence is the view's (docgen/labels.yaml, `appeal`: it cites art. 91 of the
# Administrative Procedural and Process-Related Code only on a date the Code was in force).
T_MR = {
    "kk": {
        "out": "Шығыс №", "to": "Кімге",
        "intro": "Сіздің {{ application_date }} №\u00a0{{ application_number }} өтінішіңізді «{{ service_name }}» мемлекеттік қызметін көрсету мәселесі бойынша қарап, {{ provider_in_sentence }} мынадай негіздер бойынша мемлекеттік қызмет көрсетуден бас тартады:",
        "ground": "{{ loop.index }}) {{ g.wording }}",
        "basis": "Құқықтық негіз: {{ g.basis }}.",
        "facts": "Анықталған мән-жайлар: {{ g.explanation }}",
        "date": "Күні",
    },
    "ru": {
        "out": "Исх. №", "to": "Кому",
        "intro": "Рассмотрев Ваше заявление от {{ application_date }} №\u00a0{{ application_number }} об оказании государственной услуги «{{ service_name }}», {{ provider_in_sentence }} отказывает в оказании государственной услуги по следующим основаниям:",
        "ground": "{{ loop.index }}) {{ g.wording }}",
        "basis": "Правовое основание: {{ g.basis }}.",
        "facts": "Установленные обстоятельства: {{ g.explanation }}",
        "date": "Дата",
    },
}


def build_motivated_refusal(lang: str) -> Document:
    t = T_MR[lang]
    doc = new_document(lang)
    para(doc, "{{ provider_name }}", style="Doc Issuer")
    tag(doc, "{%p if outgoing_number %}")
    para(doc, f"{t['out']}\u00a0{{{{ outgoing_number }}}}")
    tag(doc, "{%p endif %}")
    p = para(doc, f"{t['to']}: {{{{ applicant.line }}}}")
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    para(doc, "{{ title_caps }}", style="Doc Title")
    # the body: one alignment (justified) for every paragraph
    para(doc, t["intro"], align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    tag(doc, "{%p for g in grounds %}")
    para(doc, t["ground"], bold=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    para(doc, t["basis"], align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    para(doc, t["facts"], align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    tag(doc, "{%p endfor %}")
    para(doc, "{{ appeal }}", align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    para(doc, "")
    tag(doc, "{%p if signer_name %}")
    signature_block(doc, "{{ signer_position }}", "{{ signer_name }}", "")
    tag(doc, "{%p endif %}")
    labelled(doc, t["date"], "{{ issued_on }}")
    return doc


BUILDERS = {
    "land_right_act": build_land_right_act,
    "cadastral_information": build_cadastral_information,
    "address_certificate": build_address_certificate,
    "cadastral_value_act": build_cadastral_value_act,
    "motivated_refusal": build_motivated_refusal,
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("types", nargs="*", default=list(BUILDERS))
    ap.add_argument("--force", action="store_true", help="overwrite existing templates")
    args = ap.parse_args(argv)
    for name in args.types:
        for lang in ("kk", "ru"):
            path = ROOT / "templates" / lang / f"{name}.docx"
            if path.exists() and not args.force:
                print(f"kept {path.relative_to(ROOT)} (exists; --force to overwrite)")
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            doc = BUILDERS[name](lang)
            slim(doc)
            doc.save(path)
            print(f"wrote {path.relative_to(ROOT)}")
    write_manifest_hashes()
    return 0


def write_manifest_hashes() -> None:
    """Put each template's current SHA-256 into templates/manifest.yaml, keeping the versions."""
    import hashlib

    import yaml

    path = ROOT / "templates" / "manifest.yaml"
    manifest = yaml.safe_load(path.read_text("utf-8"))
    lines = [line for line in path.read_text("utf-8").splitlines() if line.startswith("#")] + [""]
    for name, langs in manifest.items():
        lines.append(f"{name}:")
        for lang, entry in langs.items():
            digest = hashlib.sha256((ROOT / "templates" / lang / f"{name}.docx").read_bytes()).hexdigest()
            lines.append(f'  {lang}: {{version: "{entry["version"]}", sha256: {digest}}}')
    path.write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__":
    sys.exit(main())

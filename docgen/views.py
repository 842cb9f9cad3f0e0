"""View models: a validated request → ready strings for one language's template.

Templates only place values; every date, number, sum in words, label and choice between phrasings
is made here: a Kazakh date inside a sentence takes its case («2026 жылғы 15 қыркүйектегі № 1184
қаулысы», «2026 жылғы 1 қазаннан бастап … 30 қыркүйекке дейін»), a name its genitive, every
«№ …» and identifier is kept whole at a line end (`docgen.fmt.nobreak`). ``title`` and ``author``
are the document's own title and issuing body in its language (the PDF's Title and Author). The
plot plan is returned as picture bytes (EMF) with its printed size; the renderer places it (and
the QR code) in the document.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from docgen import fmt, geometry, plan as plan_drawing
from docgen.fmt import KazakhCase
from docgen.tokens import format_token
from docgen.model import (
    AddressCertificateData,
    AddressOperation,
    CadastralInformationData,
    CadastralValueActData,
    DocumentType,
    LandRightActData,
    MotivatedRefusalData,
    ObjectKind,
    Organization,
    Person,
    RightKind,
)
from kazakhstan.dates import today_in

__all__ = ["Image", "View", "build_view", "labels", "footer_context"]


@dataclass(frozen=True)
class Image:
    data: bytes
    width_mm: float  # printed size
    height_mm: float
    format: str  # "png" or "emf"


@dataclass
class View:
    context: dict[str, Any]
    images: dict[str, Image] = field(default_factory=dict)


@lru_cache(maxsize=1)
def labels() -> dict:
    return yaml.safe_load((Path(__file__).with_name("labels.yaml")).read_text("utf-8"))


def _l(key: str, *sub: str) -> dict:
    node = labels()[key]
    for s in sub:
        node = node[s]
    return node


def footer_context(languages: tuple[str, ...], url: str, token: str) -> dict:
    """The page footer is the same on every page of the file, so in kk+ru it speaks both languages.
    The verification code is printed in groups of four (`docgen.tokens.format_token`)."""
    return {
        "footer_lines": [fmt.nobreak(_l("equivalence")[lang]) for lang in languages],
        "footer_caption": " / ".join(_l("verification_caption")[lang] for lang in languages),
        "footer_code_caption": " / ".join(_l("code_caption")[lang] for lang in languages),
        "verification_url": url,
        "verification_code": format_token(token),
    }


def _party(p: Person | Organization, lang: str) -> dict:
    if isinstance(p, Person):
        d = {"name": p.full_name, "id_label": "ЖСН" if lang == "kk" else "ИИН", "id": p.iin}
    else:
        d = {"name": p.name_kk if lang == "kk" else p.name_ru, "id_label": "БСН" if lang == "kk" else "БИН", "id": p.bin}
    share = getattr(p, "share", None)
    d["share"] = f"{_l('share_word')[lang]} {share}" if share else ""
    d["line"] = f"{d['name']}, {d['id_label']} {d['id']}" + (f", {d['share']}" if share else "")
    return d


def _decision(dec, lang: str) -> str:
    """kk «Қарасай ауданы әкімдігінің 2026 жылғы 15 қыркүйектегі № 1184 қаулысы» (the date and
    number before the kind of act, the month in the locative); ru «Постановление акимата
    Карасайского района от 15 сентября 2026 года № 1184»."""
    authority = dec.authority[lang]
    if lang == "kk":
        head, _, kind = authority.rpartition(" ")
        if head and kind in _l("kk_act_kinds"):
            return f"{head} {fmt.date_kk(dec.date, KazakhCase.LOCATIVE)} № {dec.number} {kind}"
        return f"{authority}, {fmt.date_kk(dec.date)}, № {dec.number}"
    return f"{authority} от {fmt.date_long(dec.date, lang)} № {dec.number}"


def _signer(signer, lang: str) -> dict:
    if signer is None:
        return {"signer_name": "", "signer_position": ""}
    return {"signer_name": signer.full_name, "signer_position": signer.position[lang]}


def _org_name(org: Organization | None, lang: str) -> str:
    if org is None:
        return ""
    return org.name_kk if lang == "kk" else org.name_ru


def _in_sentence(name: str, lang: str) -> str:
    """An organisation's name inside a sentence: a first word that is a common noun in lower case
    («…, филиал НАО «…» отказывает»), a proper name («Агентство Республики Казахстан …») kept."""
    first = name.split(" ", 1)[0]
    if first in _l("common_first_words", lang):
        return name[0].lower() + name[1:]
    return name


def _female(iin: str) -> bool:
    """The 7th digit of an IIN: odd for a man, even for a woman."""
    return iin[6] in "246"


def _applicant_phrase(p: Person | Organization, lang: str) -> str:
    """Who applied, as sentence 1 of the cadastral value act needs it: kk in the genitive
    («заңды тұлға – «…» жауапкершілігі шектеулі серіктестігінің (БСН …)»), ru after «заявлением»
    («юридического лица – товарищества с ограниченной ответственностью «…» (БИН …)»). A name that
    cannot be declined stands in brackets."""
    if isinstance(p, Person):
        if lang == "kk":
            female = _female(p.iin)
            genitive = fmt.kk_genitive(p.full_name)
            if genitive:
                return f"{'азаматша' if female else 'азамат'} {genitive} (ЖСН {p.iin})"
            return f"{'азаматшаның' if female else 'азаматтың'} ({p.full_name}, ЖСН {p.iin})"
        return f"физического лица (заявитель – {p.full_name}, ИИН {p.iin})"
    if lang == "kk":
        genitive = fmt.kk_genitive(p.name_kk)
        if genitive:
            return f"заңды тұлға – {genitive} (БСН {p.bin})"
        return f"заңды тұлғаның ({p.name_kk}, БСН {p.bin})"
    name = p.name_ru
    for form, genitive in _l("ru_legal_form_genitive").items():
        if name.lower().startswith(form.lower() + " "):
            return f"юридического лица – {genitive}{name[len(form):]} (БИН {p.bin})"
    first = name.split(" ", 1)[0]
    if name.startswith("«") or (first.isupper() and len(first) >= 2):  # ТОО «…», АО «…»: not declined
        return f"юридического лица – {name} (БИН {p.bin})"
    return f"юридического лица (заявитель – {name}, БИН {p.bin})"


def _years(term, lang: str) -> str:
    years = round((term.end - term.start).days / 365.25)
    if lang == "kk":
        return f"{years} жыл"
    from babel.units import format_unit

    return format_unit(years, "duration-year", length="long", locale="ru")


def _term_text(term, lang: str) -> str:
    """kk «2026 жылғы 1 қазаннан бастап 2075 жылғы 30 қыркүйекке дейін (49 жыл)» (ablative,
    dative); ru «с 1 октября 2026 года по 30 сентября 2075 года (49 лет)»."""
    if lang == "kk":
        a = fmt.date_kk(term.start, KazakhCase.ABLATIVE)
        b = fmt.date_kk(term.end, KazakhCase.DATIVE)
        return f"{a} бастап {b} дейін ({_years(term, lang)})"
    return f"с {fmt.date_long(term.start, lang)} по {fmt.date_long(term.end, lang)} ({_years(term, lang)})"


def _lease_kind(term) -> str:
    # Land Code art. 35: short-term lease up to five years, long-term from five to 49 years.
    return "long" if (term.end - term.start).days > 5 * 365 + 1 else "short"


def _land_plot(lp, lang: str) -> dict:
    return {
        "cadastral_number": lp.cadastral_number,
        "area_ha": fmt.area_ha(lp.area_ha, lang),
        "address": lp.address[lang],
        "land_category": lp.land_category[lang],
        "intended_use": lp.intended_use[lang],
        "restrictions": [r[lang] for r in lp.restrictions] or [_l("none")[lang]],
        "divisible": _l("divisible", "true" if lp.divisible else "false")[lang],
    }


# --- per type ------------------------------------------------------------------------------------

def _land_right_act(d: LandRightActData, lang: str, issued_on: dt.date) -> View:
    kind = d.right_kind
    title = _l("act_title", kind.value)[lang]
    if kind == RightKind.TEMPORARY_PAID_LAND_USE:
        title = title.format(lease_kind=_l("lease_kind", _lease_kind(d.term))[lang])
    holders = d.holder if isinstance(d.holder, list) else [d.holder]
    pts = [(p.name, p.x, p.y) for p in d.plan.points]
    drawing = plan_drawing.draw_plan(pts, scale=d.plan.scale, language=lang, width_mm=95, height_mm=80)
    ctx = {
        "title": title,
        "title_caps": title.upper(),
        "author": _org_name(d.issuer, lang),
        "duplicate_mark": _l("duplicate")[lang] if d.duplicate else "",
        "act_number": d.act_number,
        "issued_on": fmt.date_long(issued_on, lang),
        "holder_caption": _l("holder_caption", kind.value)[lang],
        "holders": [_party(h, lang) for h in holders],
        "term": _term_text(d.term, lang) if d.term else "",
        "plot": _land_plot(d.land_plot, lang),
        "basis": _decision(d.basis, lang),
        "scale": f"1:{drawing.scale}",
        "points": [{"name": n, "x": fmt.decimal(x, lang, 2), "y": fmt.decimal(y, lang, 2)} for n, x, y in pts],
        "segments": [
            {"from": a, "to": b, "length": fmt.metres(m, lang)} for a, b, m in geometry.segment_lengths(pts)
        ],
        "adjacent": [{"from": a.from_, "to": a.to, "description": a.description[lang]} for a in d.plan.adjacent],
        "computed_area_ha": fmt.area_ha(d.plan.area_ha, lang),
        "issuer_name": _org_name(d.issuer, lang),
        **_signer(d.signer, lang),
    }
    return View(ctx, {"plan": Image(drawing.data, drawing.width_mm, drawing.height_mm, drawing.format)})


def _cadastral_information(d: CadastralInformationData, lang: str, issued_on: dt.date) -> View:
    ctx = {
        "title": _l("cadastral_information_title", d.variant.value)[lang],
        "author": _org_name(d.issuer, lang),
        "variant": d.variant.value,
        # kk «Мәліметтер 2026 жылғы 19 қарашадағы жағдай бойынша», ru «… по состоянию на 19 ноября …»
        "as_of": fmt.date_long(d.as_of, lang, KazakhCase.LOCATIVE),
        "issued_on": fmt.date_long(issued_on, lang),
        "request_number": d.request_number or "",
        "plot": _land_plot(d.land_plot, lang),
        "holders": [_party(h, lang) for h in d.holders],
        "right": _l("right_name", d.right_kind.value)[lang],
        "term": _term_text(d.term, lang) if d.term else "",
        "title_documents": [
            {"kind": t.kind[lang], "number": t.number, "date": fmt.date_short(t.date)} for t in d.title_documents
        ],
        "cadastral_value": fmt.money(d.cadastral_value, lang) if d.cadastral_value is not None else "",
        "issuer_name": _org_name(d.issuer, lang),
        **_signer(d.signer, lang),
    }
    return View(ctx)


def _address_line(a, lang: str, object_kind: ObjectKind) -> str:
    parts = [_l("address_parts", "country")[lang], a.region[lang]]
    parts += [x[lang] for x in (a.district, a.locality, a.street) if x is not None]
    if a.building:
        key = "building_plot" if object_kind == ObjectKind.LAND_PLOT else "building"
        parts.append(_l("address_parts", key)[lang].format(value=a.building))
    if a.unit:
        parts.append(_l("address_parts", "unit")[lang].format(value=a.unit))
    return ", ".join(parts)


def _address_certificate(d: AddressCertificateData, lang: str, issued_on: dt.date) -> View:
    op = d.operation
    title = _l("document_title", "address_certificate")[lang]
    ctx = {
        "title": title,
        "title_caps": title.upper(),
        "author": _org_name(d.issuer, lang),
        "operation_phrase": _l("address_operation", op.value)[lang],
        "address_caption": _l("address_caption", op.value)[lang],
        "address": _address_line(d.address, lang, d.object_kind),
        "previous_address": _address_line(d.previous_address, lang, d.object_kind) if d.previous_address else "",
        "rka": d.rka,
        "object_kind": _l("object_kind", d.object_kind.value)[lang],
        "cadastral_number": d.cadastral_number or "",
        "registered_in_register": op != AddressOperation.CLARIFY,
        "certificate_number": d.certificate_number or "",
        "issued_on": fmt.date_long(issued_on, lang),
        "basis": _decision(d.basis, lang),
        "applicant": _party(d.applicant, lang) if d.applicant else None,
        "issuer_name": _org_name(d.issuer, lang),
        **_signer(d.signer, lang),
    }
    return View(ctx)


def _places(values, minimum: int) -> int:
    """Decimals that show every value of a column exactly, at least ``minimum``."""
    return max([minimum] + [max(0, -Decimal(v).normalize().as_tuple().exponent) for v in values])


def _cadastral_value_act(d: CadastralValueActData, lang: str, issued_on: dt.date) -> View:
    # one number of decimals per column, so that right-aligned figures line up
    area_places = _places([r.area for r in d.rows], 4 if d.area_unit == "ha" else 2)
    rate_places = _places([r.base_rate for r in d.rows], 2)
    coef_places = _places([r.correction_coefficient for r in d.rows], 2)
    rows = []
    for r in d.rows:
        zone = r.zone if isinstance(r.zone, str) else r.zone[lang]
        rows.append({
            "zone": zone,
            "area": fmt.decimal(r.area, lang, area_places),
            "base_rate": fmt.decimal(r.base_rate, lang, rate_places),
            "coefficient": fmt.decimal(r.correction_coefficient, lang, coef_places),
            "value": fmt.money(r.value, lang),
        })
    title = _l("document_title", "cadastral_value_act")[lang]
    ctx = {
        "title": title,
        "title_caps": title.upper(),
        "author": _org_name(d.cadastre_enterprise, lang),
        "act_number": d.act_number or "",
        "issued_on": fmt.date_long(issued_on, lang),
        "applicant_phrase": _applicant_phrase(d.applicant, lang),
        "valuation_reason": d.valuation_reason[lang],
        "intended_use": d.intended_use[lang],
        "location": d.location[lang],
        "area_unit": _l("area_unit", d.area_unit)[lang],
        "rows": rows,
        "total_area": fmt.decimal(d.total_area, lang, area_places),
        "total": fmt.money(d.total, lang),
        "total_words": fmt.money_in_words(d.total, lang, capitalize=False),
        "enterprise_name": _org_name(d.cadastre_enterprise, lang),
        "enterprise_head_name": d.enterprise_head.full_name if d.enterprise_head else "",
        "enterprise_head_position": d.enterprise_head.position[lang] if d.enterprise_head else "",
        "authority_head_name": d.authority_head.full_name if d.authority_head else "",
        "authority_head_position": d.authority_head.position[lang] if d.authority_head else "",
    }
    return View(ctx)


def _motivated_refusal(d: MotivatedRefusalData, lang: str, issued_on: dt.date) -> View:
    from docgen.catalog import load_catalog

    service = load_catalog().get(d.service)
    grounds = []
    for g in d.grounds:
        if g.code is not None:  # a catalog ground: the act's own wording and legal basis
            ground = service.ground(g.code)
            wording, basis = ground.wording.get(lang), ground.basis.get(lang)
        else:  # given by the request where the catalog has no ground in force (docgen.model)
            wording, basis = g.text[lang], g.legal_basis[lang]
        grounds.append({
            "code": g.code or "",
            "wording": wording,
            "basis": basis.rstrip("."),
            "explanation": g.explanation[lang],
        })
    provider = _org_name(d.provider, lang) or (service.provider.get(lang) if service.provider else "")
    appeal = _l("appeal")
    title = _l("document_title", "motivated_refusal")[lang]
    ctx = {
        "title": title,
        "title_caps": title.upper(),
        "author": provider,
        "service_name": service.name.get(lang),
        "service_code": service.code,
        "provider_name": provider,
        "provider_in_sentence": _in_sentence(provider, lang),
        "outgoing_number": d.outgoing_number or "",
        "issued_on": fmt.date_long(issued_on, lang),
        "applicant": _party(d.applicant, lang),
        "application_number": d.application.number,
        # kk «Сіздің 2026 жылғы 12 қарашадағы № … өтінішіңізді», ru «… заявление от 12 ноября 2026 года №»
        "application_date": fmt.date_long(d.application.date, lang, KazakhCase.LOCATIVE),
        "grounds": grounds,
        # the Code's art. 91 is cited only by a refusal dated when the Code was in force
        "appeal": appeal["appc" if issued_on >= appeal["appc_in_force_from"] else "general"][lang],
        **_signer(d.signer, lang),
    }
    return View(ctx)


_BUILDERS = {
    DocumentType.LAND_RIGHT_ACT: _land_right_act,
    DocumentType.CADASTRAL_INFORMATION: _cadastral_information,
    DocumentType.ADDRESS_CERTIFICATE: _address_certificate,
    DocumentType.CADASTRAL_VALUE_ACT: _cadastral_value_act,
    DocumentType.MOTIVATED_REFUSAL: _motivated_refusal,
}


def _whole_at_line_ends(value: Any) -> Any:
    """Every string of a context with «№ …» and identifiers kept whole (`docgen.fmt.nobreak`)."""
    if isinstance(value, str):
        return fmt.nobreak(value)
    if isinstance(value, dict):
        return {k: _whole_at_line_ends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_at_line_ends(v) for v in value]
    return value


def build_view(request, lang: str, *, today: dt.date | None = None) -> View:
    """The context for `lang` ('kk' or 'ru') of a validated request."""
    data = request.data
    issued_on = getattr(data, "issued_on", None) or today or today_in()
    view = _BUILDERS[DocumentType(request.type)](data, lang, issued_on)
    # the PDF's Title and Author are metadata, not lines of text: kept as they are
    view.context = {k: v if k in ("title", "author") else _whole_at_line_ends(v) for k, v in view.context.items()}
    view.context.setdefault("lang", lang)
    return view

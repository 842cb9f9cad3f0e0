"""What the public page says about a record's document: title, number, date, issuer and the main
facts per type, citizens' data masked (`qujat.web.mask`).

A record keeps its request's validated data as JSON (`qujat.service`: dates and decimals as
text, the cadastral number normalised). `describe` reads it defensively — a field that is missing
or of another shape is left out, never an error — into a `Description` whose facts are neutral
values (the JSON endpoint returns them as they are); `show` turns a fact into the words of one
page language. Wording printed on the paper (act titles, kinds of right, object kinds) comes from
docgen's labels, so that the page and the paper say the same thing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from docgen import fmt
from docgen.views import labels
from qujat.web.i18n import ENUM_EN, OPERATIONS, TITLES, data_lang, text
from qujat.web.mask import mask_iin, mask_name

__all__ = ["Fact", "Description", "describe", "show", "format_day", "format_moment"]


@dataclass(frozen=True)
class Fact:
    """One line of the document's details: ``key`` names it (and its label), ``kind`` says how
    its ``value`` (JSON: text, a {kk, ru} dict, a list) is put into words."""

    key: str
    kind: str
    value: Any

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True)
class Description:
    type: str
    title: dict[str, str]                  # kk, ru, en
    number: Fact | None
    issued_on: dt.date | None
    issuer: dict[str, Any] | None          # {"name": {kk, ru}, "bin": …}
    facts: tuple[Fact, ...] = field(default_factory=tuple)
    officials: tuple[dict[str, Any], ...] = ()  # who the data name as signing: full_name, position

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "number": self.number.value if self.number else None,
            "issued_on": self.issued_on.isoformat() if self.issued_on else None,
            "issuer": self.issuer,
            "facts": [f.as_json() for f in self.facts],
        }


# -- reading the stored data ---------------------------------------------------------------------

def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _bi(value: Any) -> dict[str, str] | None:
    """A bilingual text {kk, ru} (either may stand in for a missing other)."""
    if not isinstance(value, dict):
        return None
    kk, ru = _text(value.get("kk")), _text(value.get("ru"))
    if not (kk or ru):
        return None
    return {"kk": kk or ru, "ru": ru or kk}


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _party(value: Any) -> dict[str, Any] | None:
    """A person (name and IIN masked) or an organisation (shown), with a co-owner's share."""
    if not isinstance(value, dict):
        return None
    share = _text(value.get("share"))
    if _text(value.get("full_name")) or _text(value.get("iin")):
        party = {"kind": "person", "name": mask_name(value.get("full_name") or ""),
                 "iin": mask_iin(value.get("iin") or "")}
    elif _bi({"kk": value.get("name_kk"), "ru": value.get("name_ru")}) or _text(value.get("bin")):
        party = {"kind": "organization",
                 "name": _bi({"kk": value.get("name_kk"), "ru": value.get("name_ru")}),
                 "bin": _text(value.get("bin"))}
    else:
        return None
    if share:
        party["share"] = share
    return party


def _parties(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [p for p in (_party(v) for v in items) if p is not None]


def _organization(value: Any) -> dict[str, Any] | None:
    party = _party(value)
    if party is None or party["kind"] != "organization" or not party["name"]:
        return None
    return {"name": party["name"], "bin": party["bin"]}


def _official(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not _text(value.get("full_name")):
        return None
    return {"full_name": value["full_name"].strip(), "position": _bi(value.get("position"))}


def _label(*path: str) -> dict[str, str] | None:
    node: Any = labels()
    for p in path:
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return _bi(node)


def _lease_kind(term: dict[str, Any] | None) -> str:
    """Land Code art. 35: a lease up to five years is short-term, longer is long-term (the rule
    the act's title follows, docgen.views)."""
    start, end = (_date(term.get("start")), _date(term.get("end"))) if isinstance(term, dict) else (None, None)
    return "long" if start and end and (end - start).days > 5 * 365 + 1 else "short"


def _add(facts: list[Fact], key: str, kind: str, value: Any) -> None:
    if value not in (None, "", [], {}):
        facts.append(Fact(key, kind, value))


def _land_plot(facts: list[Fact], plot: Any) -> None:
    plot = plot if isinstance(plot, dict) else {}
    _add(facts, "cadastral_number", "text", _text(plot.get("cadastral_number")))
    area = _decimal(plot.get("area_ha"))
    _add(facts, "area_ha", "area_ha", str(area) if area is not None else None)
    for key in ("address", "land_category", "intended_use"):
        _add(facts, key, "bi", _bi(plot.get(key)))


def _term(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict) or not (_date(value.get("start")) and _date(value.get("end"))):
        return None
    return {"start": value["start"], "end": value["end"]}


def _address_line(value: Any) -> dict[str, str] | None:
    """An address certificate's address as one line per language, as the paper writes it."""
    if not isinstance(value, dict):
        return None
    lines = {}
    for lang in ("kk", "ru"):
        parts = [labels()["address_parts"]["country"][lang]]
        for key in ("region", "district", "locality", "street"):
            bi = _bi(value.get(key))
            if bi:
                parts.append(bi[lang])
        for key in ("building", "unit"):
            if _text(value.get(key)):
                parts.append(labels()["address_parts"][key][lang].format(value=value[key].strip()))
        lines[lang] = ", ".join(parts)
    return lines if len(lines["kk"].split(", ")) > 1 else None


# -- per type ------------------------------------------------------------------------------------

def _land_right_act(d: dict[str, Any], facts: list[Fact]) -> dict[str, str]:
    kind = d.get("right_kind")
    title = dict(_label("act_title", kind) or {})
    if title:
        lease = _lease_kind(d.get("term"))
        title = {lang: t.format(lease_kind=labels()["lease_kind"][lease][lang]) for lang, t in title.items()}
        title["en"] = TITLES[f"land_right_act.{kind}"]["en"].format(
            lease_kind=TITLES[f"lease_kind.{lease}"]["en"])
    _add(facts, "right_kind", "enum", kind if _label("right_name", kind) else None)
    _add(facts, "term", "term", _term(d.get("term")))
    _add(facts, "holders", "parties", _parties(d.get("holder")))
    _land_plot(facts, d.get("land_plot"))
    if d.get("duplicate") is True:
        _add(facts, "duplicate", "yes", True)
    return title


def _cadastral_information(d: dict[str, Any], facts: list[Fact]) -> dict[str, str]:
    variant = d.get("variant")
    title = dict(_label("cadastral_information_title", variant) or {})
    if title:
        title["en"] = TITLES[f"cadastral_information.{variant}"]["en"]
    as_of = _date(d.get("as_of"))
    _add(facts, "as_of", "date", as_of.isoformat() if as_of else None)
    _land_plot(facts, d.get("land_plot"))
    kind = d.get("right_kind")
    _add(facts, "right_kind", "enum", kind if _label("right_name", kind) else None)
    _add(facts, "term", "term", _term(d.get("term")))
    _add(facts, "holders", "parties", _parties(d.get("holders")))
    value = _decimal(d.get("cadastral_value"))
    _add(facts, "cadastral_value", "money", str(value) if value is not None else None)
    return title


def _address_certificate(d: dict[str, Any], facts: list[Fact]) -> dict[str, str]:
    op = d.get("operation")
    if op in OPERATIONS:
        _add(facts, "operation", "operation", op)
    kind = d.get("object_kind")
    _add(facts, "object_kind", "enum", kind if _label("object_kind", kind) else None)
    key = {"assign": "assigned_address", "change": "new_address", "abolish": "abolished_address",
           "clarify": "clarified_address"}.get(op, "address")
    _add(facts, key, "bi", _address_line(d.get("address")))
    _add(facts, "previous_address", "bi", _address_line(d.get("previous_address")))
    _add(facts, "rka", "text", _text(d.get("rka")))
    _add(facts, "cadastral_number", "text", _text(d.get("cadastral_number")))
    _add(facts, "applicant", "parties", _parties(d.get("applicant")) if d.get("applicant") else None)
    return dict(TITLES["address_certificate"])


def _cadastral_value_act(d: dict[str, Any], facts: list[Fact]) -> dict[str, str]:
    _add(facts, "applicant", "parties", _parties(d.get("applicant")))
    for key in ("location", "intended_use", "valuation_reason"):
        _add(facts, key, "bi", _bi(d.get(key)))
    rows = d.get("rows") if isinstance(d.get("rows"), list) else []
    areas, values = [], []
    for row in rows:
        row = row if isinstance(row, dict) else {}
        area, rate, k = (_decimal(row.get(x)) for x in ("area", "base_rate", "correction_coefficient"))
        if area is None or rate is None or k is None:
            areas = values = []
            break
        areas.append(area)
        values.append((area * rate * k).quantize(Decimal("0.01")))   # as docgen.model.ValueRow
    unit = d.get("area_unit") if d.get("area_unit") in ("m2", "ha") else "m2"
    if areas:
        _add(facts, "total_area", "area", {"value": str(sum(areas)), "unit": unit})
        _add(facts, "cadastral_value", "money", str(sum(values)))
    return dict(TITLES["cadastral_value_act"])


def _motivated_refusal(d: dict[str, Any], facts: list[Fact]) -> dict[str, str]:
    service = _service(d.get("service"))
    _add(facts, "service", "service", service)
    application = d.get("application") if isinstance(d.get("application"), dict) else {}
    number, date = _text(application.get("number")), _date(application.get("date"))
    if number and date:
        _add(facts, "application", "application", {"number": number, "date": date.isoformat()})
    _add(facts, "applicant", "parties", _parties(d.get("applicant")))
    grounds = []
    for ground in d.get("grounds") if isinstance(d.get("grounds"), list) else []:
        code = _text(ground.get("code")) if isinstance(ground, dict) else None
        if code:
            grounds.append({"code": code, "wording": _ground_wording(d.get("service"), code)})
    _add(facts, "grounds", "grounds", grounds)
    return dict(TITLES["motivated_refusal"])


def _service(code: Any) -> dict[str, Any] | None:
    if not _text(code):
        return None
    from docgen.catalog import load_catalog

    try:
        service = load_catalog().get(code)
    except KeyError:
        return {"code": code, "name": None}
    return {"code": code, "name": {"kk": service.name.get("kk"), "ru": service.name.get("ru")}}


def _ground_wording(service_code: Any, code: str) -> dict[str, str] | None:
    from docgen.catalog import load_catalog

    try:
        ground = load_catalog().get(service_code).ground(code)
    except (KeyError, TypeError):
        return None
    return {"kk": ground.wording.get("kk"), "ru": ground.wording.get("ru")}


def _provider(d: dict[str, Any]) -> dict[str, Any] | None:
    org = _organization(d.get("provider"))
    if org is None and _text(d.get("service")):
        from docgen.catalog import load_catalog

        try:
            provider = load_catalog().get(d["service"]).provider
        except KeyError:
            provider = None
        if provider is not None:
            org = {"name": {"kk": provider.get("kk"), "ru": provider.get("ru")}, "bin": None}
    return org


_TYPES = {
    "land_right_act": (_land_right_act, "act_number", "number", "issuer"),
    "cadastral_information": (_cadastral_information, "request_number", "request_number", "issuer"),
    "address_certificate": (_address_certificate, "certificate_number", "number", "issuer"),
    "cadastral_value_act": (_cadastral_value_act, "act_number", "number", "cadastre_enterprise"),
    "motivated_refusal": (_motivated_refusal, "outgoing_number", "outgoing_number", "provider"),
}


def describe(doc_type: str, data: Any, *, issued_on: dt.date) -> Description:
    """The page's view of a record's ``data`` (a document of ``doc_type``). ``issued_on`` is the
    date to show when the data carry none (the record's creation day in Kazakhstan)."""
    d = data if isinstance(data, dict) else {}
    facts: list[Fact] = []
    title: dict[str, str] = {}
    number = issuer = None
    if doc_type in _TYPES:
        build, number_field, number_key, issuer_field = _TYPES[doc_type]
        title = build(d, facts)
        if _text(d.get(number_field)):
            number = Fact(number_key, "text", d[number_field].strip())
        issuer = _provider(d) if doc_type == "motivated_refusal" else _organization(d.get(issuer_field))
    officials = tuple(o for o in (_official(d.get(k)) for k in ("signer", "enterprise_head", "authority_head"))
                      if o is not None)
    return Description(type=doc_type, title=title or {"kk": doc_type, "ru": doc_type, "en": doc_type},
                       number=number, issued_on=_date(d.get("issued_on")) or issued_on,
                       issuer=issuer, facts=tuple(facts), officials=officials)


# -- into words ----------------------------------------------------------------------------------

def format_day(day: dt.date, lang: str) -> str:
    """kk «2026 жылғы 20 қараша», ru «20 ноября 2026 года» (as the paper), en «20 November 2026»."""
    if lang in ("kk", "ru"):
        return fmt.date_long(day, lang)
    return format_date(day, "d MMMM y", locale="en")


def format_moment(moment: dt.datetime, lang: str, tz) -> str:
    """A moment in the page's time zone: «2026 жылғы 20 қараша, 14:05 (UTC+05:00)»."""
    local = moment.astimezone(tz)
    offset = local.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{format_day(local.date(), lang)}, {format_datetime(local, 'HH:mm', locale=lang)} ({zone})"


def _number(value: str, lang: str, places: int) -> str:
    return format_decimal(Decimal(value), format="#,##0." + "0" * places, locale=lang)


def _party_line(p: dict[str, Any], lang: str) -> tuple[str, str | None]:
    share = f", {text('share', lang, share=p['share'])}" if p.get("share") else ""
    if p["kind"] == "person":
        return f"{p['name']}, {text('person_id', lang)} {p['iin']}{share}", None
    dl = data_lang(lang)
    ident = f", {text('organization_id', lang)} {p['bin']}" if p.get("bin") else ""
    return f"{p['name'][dl]}{ident}{share}", dl


_ENUM_LABELS = {"right_kind": "right_name", "object_kind": "object_kind"}


def show(fact: Fact, lang: str) -> list[tuple[str, str | None]]:
    """The fact in ``lang``: lines of (text, the language of that text when it is not ``lang``)."""
    dl = data_lang(lang)
    foreign = dl if dl != lang else None
    v = fact.value
    if fact.kind == "text":
        return [(v, None)]
    if fact.kind == "bi":
        return [(v[dl], foreign)]
    if fact.kind == "date":
        return [(format_day(dt.date.fromisoformat(v), lang), None)]
    if fact.kind == "term":
        start, end = (format_day(dt.date.fromisoformat(v[k]), lang) for k in ("start", "end"))
        return [(f"{start} – {end}", None)]
    if fact.kind == "area_ha":
        return [(f"{_number(v, lang, 4)} {text('unit.ha', lang)}", None)]
    if fact.kind == "area":
        return [(f"{format_decimal(Decimal(v['value']), format='#,##0.####', locale=lang)} "
                 f"{text('unit.' + v['unit'], lang)}", None)]
    if fact.kind == "money":
        return [(text("tenge", lang, amount=_number(v, lang, 2)), None)]
    if fact.kind == "enum":                   # a closed list's value, worded by docgen's labels
        group = _ENUM_LABELS[fact.key]
        phrase = ENUM_EN[f"{group}.{v}"] if lang == "en" else _label(group, v)[lang]
        return [(phrase[:1].upper() + phrase[1:], None)]
    if fact.kind == "operation":
        return [(OPERATIONS[v][lang], None)]
    if fact.kind == "yes":
        return [(text("yes", lang), None)]
    if fact.kind == "parties":
        return [_party_line(p, lang) for p in v]
    if fact.kind == "service":
        return [(f"{v['name'][dl]} ({v['code']})", foreign) if v.get("name") else (v["code"], None)]
    if fact.kind == "application":
        day = dt.date.fromisoformat(v["date"])
        return [(text("application", lang, number=v["number"], date=format_day(day, lang)), None)]
    if fact.kind == "grounds":
        return [(f"{g['code']}: {g['wording'][dl]}", foreign) if g.get("wording") else (g["code"], None)
                for g in v]
    raise ValueError(f"unknown fact kind {fact.kind!r}")

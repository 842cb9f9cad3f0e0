"""The request contract of spec §1: the envelope, the common blocks and the five document types.

Pydantic v2 models. Every rule that a clerk would check by eye is a validator here, so that an
invalid request is refused before anything is rendered or stored; the error locations are the
JSON field paths (see `docgen.errors.RequestInvalid`).
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import AfterValidator

from docgen import geometry
from kazakhstan import ids
from kazakhstan.dates import DEFAULT_TIMEZONE, today_in
from kazakhstan.script import check_one_script_per_word

__all__ = [
    "DocumentType", "Language", "RightKind", "CadastralVariant", "AddressOperation", "ObjectKind",
    "Bilingual", "Person", "Organization", "LandPlot", "Decision", "Signer",
    "LandRightActData", "CadastralInformationData", "AddressCertificateData",
    "CadastralValueActData", "MotivatedRefusalData", "DocumentRequest", "REQUEST_ADAPTER",
    "DATA_MODELS", "ExpectedSigner", "MAX_SIGNERS",
]


class DocumentType(StrEnum):
    LAND_RIGHT_ACT = "land_right_act"
    CADASTRAL_INFORMATION = "cadastral_information"
    ADDRESS_CERTIFICATE = "address_certificate"
    CADASTRAL_VALUE_ACT = "cadastral_value_act"
    MOTIVATED_REFUSAL = "motivated_refusal"


class Language(StrEnum):
    KK = "kk"
    RU = "ru"
    KK_RU = "kk+ru"

    @property
    def parts(self) -> tuple[str, ...]:
        """The languages rendered, in order: `kk+ru` is the Kazakh document, then the Russian."""
        return tuple(self.value.split("+"))


class RightKind(StrEnum):
    PRIVATE_OWNERSHIP = "private_ownership"
    PERMANENT_LAND_USE = "permanent_land_use"
    TEMPORARY_PAID_LAND_USE = "temporary_paid_land_use"
    TEMPORARY_FREE_LAND_USE = "temporary_free_land_use"

    @property
    def temporary(self) -> bool:
        return self in (RightKind.TEMPORARY_PAID_LAND_USE, RightKind.TEMPORARY_FREE_LAND_USE)


class CadastralVariant(StrEnum):
    CADASTRAL_INFO = "cadastral_info"
    OWNERSHIP_INFO = "ownership_info"
    IDENTIFICATION_DOCUMENT_INFO = "identification_document_info"
    TITLE_DOCUMENT_INFO = "title_document_info"


class AddressOperation(StrEnum):
    ASSIGN = "assign"
    CHANGE = "change"
    ABOLISH = "abolish"
    CLARIFY = "clarify"


class ObjectKind(StrEnum):
    LAND_PLOT = "land_plot"
    BUILDING = "building"
    PREMISES = "premises"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


# --- the reference date ----------------------------------------------------------------------

def _context(info: ValidationInfo) -> dict:
    """The validation context (a dict from `docgen.request.parse_request`), else {}."""
    return info.context if isinstance(info.context, dict) else {}


def reference_date(info: ValidationInfo) -> dt.date:
    """"Today" for the rules that refuse future dates: the date given in the validation context
    (``{"today": date}``, see `docgen.request.parse_request`), else today in Asia/Almaty — never
    the server's local date."""
    today = _context(info).get("today")
    return today if isinstance(today, dt.date) else today_in(DEFAULT_TIMEZONE)


# --- text ----------------------------------------------------------------------------------------

_one_script_per_word = check_one_script_per_word


Text = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_one_script_per_word)]
ShortText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_script_per_word)]


class Bilingual(_Model):
    """Free text printed in the document, in Kazakh and in Russian."""

    kk: Text
    ru: Text

    def __getitem__(self, lang: str) -> str:
        return self.kk if lang == "kk" else self.ru


# --- parties -------------------------------------------------------------------------------------

def _iin(v: str, info: ValidationInfo) -> str:
    return ids.validate_iin(v, today=reference_date(info))


def _bin(v: str) -> str:
    return ids.validate_bin(v)


Iin = Annotated[str, AfterValidator(_iin)]
Bin = Annotated[str, AfterValidator(_bin)]


class Person(_Model):
    full_name: ShortText
    iin: Iin


class Organization(_Model):
    name_kk: ShortText
    name_ru: ShortText
    bin: Bin


def _party_kind(v: Any) -> str | None:
    if isinstance(v, dict):
        if "iin" in v:
            return "person"
        if "bin" in v:
            return "organization"
        return None
    return "person" if isinstance(v, Person) else "organization" if isinstance(v, Organization) else None


Party = Annotated[
    Union[Annotated[Person, Tag("person")], Annotated[Organization, Tag("organization")]],
    Discriminator(
        _party_kind,
        custom_error_type="party_kind",
        custom_error_message="a person needs 'full_name' and 'iin'; an organization 'name_kk', 'name_ru' and 'bin'",
    ),
]


class _Share(_Model):
    share: Annotated[str, Field(pattern=r"^\s*\d+\s*/\s*\d+\s*$", examples=["1/2"])]

    @field_validator("share")
    @classmethod
    def _fraction(cls, v: str) -> str:
        num, den = (int(p) for p in v.split("/"))
        if den == 0 or num == 0 or num > den:
            raise ValueError("share must be a fraction between 0 and 1, such as 1/2")
        return f"{num}/{den}"

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.share)


class PersonShare(Person, _Share):
    pass


class OrganizationShare(Organization, _Share):
    pass


SharedHolder = Annotated[
    Union[Annotated[PersonShare, Tag("person")], Annotated[OrganizationShare, Tag("organization")]],
    Discriminator(
        _party_kind,
        custom_error_type="party_kind",
        custom_error_message="a co-owner needs 'share' and either 'full_name' + 'iin' or 'name_kk' + 'name_ru' + 'bin'",
    ),
]


def _holder_kind(v: Any) -> str:
    return "shared" if isinstance(v, (list, tuple)) else "single"


Holder = Annotated[
    Union[Annotated[Party, Tag("single")], Annotated[list[SharedHolder], Tag("shared")]],
    Discriminator(_holder_kind),
]


def check_shares(holders: list) -> None:
    if len(holders) < 2:
        raise ValueError("common ownership needs at least two co-owners; give a single holder as an object")
    total = sum((h.fraction for h in holders), Fraction(0))
    if total != 1:
        raise ValueError(f"the co-owners' shares add up to {total}, not 1")


# --- land plot, decision, signer -----------------------------------------------------------------

CadastralNumber = Annotated[str, AfterValidator(ids.normalize_cadastral_number)]
PositiveDecimal = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6)]


class LandPlot(_Model):
    cadastral_number: CadastralNumber
    area_ha: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=4, description="hectares")]
    address: Bilingual
    land_category: Bilingual
    intended_use: Bilingual
    restrictions: list[Bilingual] = Field(default_factory=list)
    divisible: bool


def _not_future(v: dt.date, info: ValidationInfo) -> dt.date:
    if v > reference_date(info):
        raise ValueError(f"date {v.isoformat()} is in the future")
    return v


PastDate = Annotated[dt.date, AfterValidator(_not_future)]


class Decision(_Model):
    authority: Bilingual
    number: ShortText
    date: PastDate


class Signer(_Model):
    full_name: ShortText
    position: Bilingual


class Term(_Model):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _order(self) -> "Term":
        if self.end <= self.start:
            raise ValueError("term.end must be after term.start")
        return self


# --- land_right_act ------------------------------------------------------------------------------

class PlanPoint(_Model):
    name: Annotated[str, Field(min_length=1, max_length=8)]
    x: float = Field(description="northing, metres")
    y: float = Field(description="easting, metres")


class Adjacency(_Model):
    from_: Annotated[str, Field(alias="from", min_length=1)]
    to: Annotated[str, Field(min_length=1)]
    description: Bilingual

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, populate_by_name=True)


class Plan(_Model):
    points: Annotated[list[PlanPoint], Field(min_length=3, max_length=500)]
    adjacent: list[Adjacency] = Field(default_factory=list)
    scale: Annotated[int, Field(ge=100, le=1_000_000)] | None = None

    @field_validator("points")
    @classmethod
    def _polygon(cls, points: list[PlanPoint]) -> list[PlanPoint]:
        if len(points) > 3 and (points[0].x, points[0].y) == (points[-1].x, points[-1].y):
            points = points[:-1]  # an explicitly closed ring: keep it once
        names = [p.name for p in points]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"point names must be unique; repeated: {', '.join(dupes)}")
        coords = [(p.name, p.x, p.y) for p in points]
        if not geometry.is_simple_polygon(coords):
            raise ValueError("the boundary must be a closed polygon that does not cross itself")
        return points

    @model_validator(mode="after")
    def _adjacency_names(self) -> "Plan":
        names = {p.name for p in self.points}
        for a in self.adjacent:
            unknown = [n for n in (a.from_, a.to) if n not in names]
            if unknown:
                raise ValueError(f"adjacent segment {a.from_}–{a.to} names unknown points: {', '.join(unknown)}")
        return self

    @property
    def area_ha(self) -> float:
        return geometry.polygon_area_m2([(p.name, p.x, p.y) for p in self.points]) / 10_000


class LandRightActData(_Model):
    right_kind: RightKind
    term: Term | None = None
    duplicate: bool = False
    act_number: ShortText
    issued_on: dt.date | None = Field(None, description="date of the act; the render date if omitted")
    holder: Holder
    land_plot: LandPlot
    basis: Decision
    plan: Plan
    issuer: Organization | None = Field(None, description="who produced the act (the cadastre enterprise)")
    signer: Signer | None = None

    @field_validator("holder")
    @classmethod
    def _shares(cls, v):
        if isinstance(v, list):
            check_shares(v)
        return v

    @model_validator(mode="after")
    def _term_and_area(self) -> "LandRightActData":
        if self.right_kind.temporary and self.term is None:
            raise _at("term", f"a term (start, end) is required for {self.right_kind.value}")
        if not self.right_kind.temporary and self.term is not None:
            raise _at("term", f"{self.right_kind.value} is not limited in time; remove the term")
        computed = self.plan.area_ha
        declared = float(self.land_plot.area_ha)
        if abs(computed - declared) > 0.01 * declared:
            raise _at(
                "land_plot.area_ha",
                f"area_ha {declared:g} differs from the area computed from plan.points "
                f"({computed:.4f} ha) by more than 1 %",
            )
        return self


# --- cadastral_information -----------------------------------------------------------------------

class TitleDocument(_Model):
    kind: Bilingual
    number: ShortText
    date: PastDate


class CadastralInformationData(_Model):
    variant: CadastralVariant
    as_of: PastDate
    land_plot: LandPlot
    holders: Annotated[list[Party], Field(min_length=1)]
    right_kind: RightKind
    term: Term | None = None
    title_documents: list[TitleDocument] = Field(default_factory=list)
    cadastral_value: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] | None = None
    request_number: ShortText | None = None
    issuer: Organization | None = None
    signer: Signer | None = None

    @model_validator(mode="after")
    def _variant_needs(self) -> "CadastralInformationData":
        if self.variant in (CadastralVariant.TITLE_DOCUMENT_INFO, CadastralVariant.IDENTIFICATION_DOCUMENT_INFO) \
                and not self.title_documents:
            raise _at("title_documents", f"the variant {self.variant.value} lists at least one document")
        return self


# --- address_certificate -------------------------------------------------------------------------

class Address(_Model):
    region: Bilingual
    district: Bilingual | None = None
    locality: Bilingual
    street: Bilingual | None = None
    building: Annotated[str, Field(min_length=1, max_length=30)] | None = None
    unit: Annotated[str, Field(min_length=1, max_length=30)] | None = None


class AddressCertificateData(_Model):
    operation: AddressOperation
    rka: Annotated[str, Field(pattern=r"^\d{10,20}$", description="address registration code, digits")]
    object_kind: ObjectKind
    address: Address
    previous_address: Address | None = None
    cadastral_number: CadastralNumber | None = None
    basis: Decision
    certificate_number: ShortText | None = None
    issued_on: dt.date | None = None
    applicant: Party | None = None
    issuer: Organization | None = None
    signer: Signer | None = None

    @model_validator(mode="after")
    def _operation_needs(self) -> "AddressCertificateData":
        op = self.operation
        if op in (AddressOperation.CHANGE, AddressOperation.ABOLISH) and self.previous_address is None:
            raise _at("previous_address", f"the operation {op.value} needs the previous address")
        if op in (AddressOperation.ASSIGN, AddressOperation.CLARIFY) and self.previous_address is not None:
            raise _at("previous_address", f"the operation {op.value} has no previous address")
        if self.object_kind == ObjectKind.PREMISES and not self.address.unit:
            raise _at("address.unit", "premises need a unit (apartment or premises number)")
        if self.object_kind != ObjectKind.LAND_PLOT and not self.address.building:
            raise _at("address.building", "a building or premises needs a building number")
        return self


# --- cadastral_value_act -------------------------------------------------------------------------

class ValueRow(_Model):
    zone: Union[ShortText, Bilingual] = Field(description="zone number, or land type / soil type (bilingual)")
    area: PositiveDecimal
    base_rate: PositiveDecimal
    correction_coefficient: PositiveDecimal

    @property
    def value(self) -> Decimal:
        """Row value in tenge, rounded to tiyn: area × base rate × correction coefficient."""
        return (self.area * self.base_rate * self.correction_coefficient).quantize(Decimal("0.01"))


class CadastralValueActData(_Model):
    applicant: Party
    valuation_reason: Bilingual
    intended_use: Bilingual
    location: Bilingual
    rows: Annotated[list[ValueRow], Field(min_length=1, max_length=200)]
    area_unit: Literal["m2", "ha"] = "m2"
    act_number: ShortText | None = None
    issued_on: dt.date | None = None
    cadastre_enterprise: Organization | None = None
    enterprise_head: Signer | None = None
    authority_head: Signer | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_computed_fields(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for i, row in enumerate(v.get("rows") or []):
                if isinstance(row, dict) and "value" in row:
                    raise _at(f"rows.{i}.value", "row values are computed (area × base_rate × coefficient); do not send them")
        return v

    @property
    def total(self) -> Decimal:
        return sum((r.value for r in self.rows), Decimal("0.00"))

    @property
    def total_area(self) -> Decimal:
        return sum((r.area for r in self.rows), Decimal(0))


# --- motivated_refusal ---------------------------------------------------------------------------

class Application(_Model):
    number: ShortText
    date: PastDate


class RefusalGroundRef(_Model):
    """One ground of a refusal: a ground of the service catalog by its ``code``, or — where the
    catalog has no ground in force for the service on the document's date — the ground itself,
    its ``text`` and ``legal_basis`` in Kazakh and Russian, as the upstream system knows the
    current rules. ``explanation``: the facts found, always."""

    code: ShortText | None = Field(None, description="a ground of the service catalog, e.g. 301-03.1")
    text: Bilingual | None = Field(None, description="the ground's wording as the act states it (without a code)")
    legal_basis: Bilingual | None = Field(
        None, description="the provision the ground stands in: sub-paragraph, paragraph, act (without a code)")
    explanation: Bilingual

    @model_validator(mode="after")
    def _code_or_own_wording(self) -> "RefusalGroundRef":
        if self.code is not None:
            stated = [k for k in ("text", "legal_basis") if getattr(self, k) is not None]
            if stated:
                raise _at(stated[0], "a catalog ground (code) brings its own wording and legal basis; "
                                     "give either code, or text and legal_basis")
        elif self.text is None:
            raise _at("text", "give the ground's code from the service catalog, or its text and legal_basis "
                              "(kk and ru)")
        elif self.legal_basis is None:
            raise _at("legal_basis", "a ground given by its text needs its legal basis (kk and ru)")
        return self


class MotivatedRefusalData(_Model):
    service: ShortText
    application: Application
    applicant: Party
    grounds: Annotated[list[RefusalGroundRef], Field(min_length=1)]
    outgoing_number: ShortText | None = None
    issued_on: dt.date | None = Field(None, description="date of the refusal; the render date if omitted")
    provider: Organization | None = None
    signer: Signer | None = None

    @model_validator(mode="after")
    def _grounds_of_service(self, info: ValidationInfo) -> "MotivatedRefusalData":
        """A refusal cites only grounds of its own service, and only on a date their act was in
        force: the document's date (``issued_on``, else the reference "today"), so that a record
        dated 2013 regenerates with the grounds of that time (docgen/catalog/README.md)."""
        from docgen.catalog import load_catalog

        catalog = load_catalog()
        try:
            service = catalog.get(self.service)
        except KeyError:
            raise _at("service", f"unknown service code {self.service!r}; see the service catalog") from None
        day = self.issued_on or reference_date(info)
        problem = service.citation_problem(day)
        in_force = service.grounds_in_force(day)
        own = {g.code for g in service.refusal_grounds}
        instead = ("cite a ground in force on the document's date, or give the ground's text and "
                   "legal_basis (kk and ru)")
        for i, g in enumerate(self.grounds):
            if g.code is None:
                if in_force:
                    raise _at(f"grounds.{i}.text",
                              f"service {self.service} has grounds in force on {day.isoformat()} in the "
                              f"catalog ({', '.join(x.code for x in in_force)}): cite them by code")
                continue
            if g.code not in own:
                raise _at(
                    f"grounds.{i}.code",
                    f"ground {g.code!r} is not a refusal ground of service {self.service}"
                    + (f" (its grounds: {', '.join(sorted(own))})" if own else " (that service lists no grounds)"),
                )
            if problem is not None:
                raise _at(f"grounds.{i}.code", f"{problem.message}; ground {g.code} cannot be cited: {instead}")
        codes = [g.code for g in self.grounds if g.code is not None]
        if len(set(codes)) != len(codes):
            raise _at("grounds", "each ground may be cited once")
        if problem is not None:
            successors = f" (see also {', '.join(service.see_also)})" if service.see_also else ""
            raise _at("service", f"{problem.message}; a document of that date cannot be a refusal of "
                                 f"service {self.service}{successors}")
        if self.provider is None and service.provider is None:
            raise _at("provider", f"the service catalog names no provider of service {self.service}; "
                                  "give the provider (name_kk, name_ru, bin)")
        if self.application.date > day:
            raise _at("application.date", "the application is dated after the refusal")
        return self


# --- envelope ------------------------------------------------------------------------------------

class LocatedError(ValueError):
    """A model-level rule that belongs to one field: carries the path below the model."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


def _at(path: str, message: str) -> LocatedError:
    return LocatedError(path, message)


DATA_MODELS: dict[DocumentType, type[_Model]] = {
    DocumentType.LAND_RIGHT_ACT: LandRightActData,
    DocumentType.CADASTRAL_INFORMATION: CadastralInformationData,
    DocumentType.ADDRESS_CERTIFICATE: AddressCertificateData,
    DocumentType.CADASTRAL_VALUE_ACT: CadastralValueActData,
    DocumentType.MOTIVATED_REFUSAL: MotivatedRefusalData,
}


# --- officials who sign the document themselves (two-step signing) ------------------------------

#: At most this many officials sign one document in turn (each signature is one more revision).
MAX_SIGNERS = 5

#: The identities of the NCA's published test certificates (the dummy person ТЕСТОВ ТЕСТ and his
#: organisation). They fail the check digit on purpose, yet certificates carry them, so a signer
#: may be expected by them as they are — where the service allows it (test and acceptance
#: stands): the validation context's `ALLOW_NCA_TEST_IDENTITIES` says so. Elsewhere they are
#: refused with the field's path, at no cost: a set lookup on a value being validated anyway.
NCA_TEST_IINS = frozenset({"123456789011", "123456789012"})
NCA_TEST_BINS = frozenset({"123456789021"})

#: The validation-context key (next to ``today``, see `docgen.request.parse_request`) that allows
#: NCA test identities as expected signers; without it they are refused.
ALLOW_NCA_TEST_IDENTITIES = "allow_nca_test_identities"


def _nca_test_identity(v: str, what: str, info: ValidationInfo) -> str:
    if _context(info).get(ALLOW_NCA_TEST_IDENTITIES) is True:
        return v
    raise ValueError(f"{v} is the {what} of the NCA's test identity (the published test "
                     "certificates, not a real person or organisation); this service does not "
                     "accept test identities")


def _signer_iin(v: str, info: ValidationInfo) -> str:
    return _nca_test_identity(v, "IIN", info) if v in NCA_TEST_IINS else _iin(v, info)


def _signer_bin(v: str, info: ValidationInfo) -> str:
    return _nca_test_identity(v, "BIN", info) if v in NCA_TEST_BINS else _bin(v)


class ExpectedSigner(_Model):
    """An official who must sign the document with their own EDS: the IIN and/or the BIN that
    the signing certificate must carry (a BIN also asks for an organisation's head or a person
    with the right to sign, by the certificate's NCA role), and the role shown on the page."""

    role: ShortText
    iin: Annotated[str, AfterValidator(_signer_iin)] | None = None
    bin: Annotated[str, AfterValidator(_signer_bin)] | None = None

    @model_validator(mode="after")
    def _someone(self) -> "ExpectedSigner":
        if self.iin is None and self.bin is None:
            raise _at("iin", "give the IIN and/or the BIN that the signer's certificate must carry")
        return self


def _distinct_signers(signers: list[ExpectedSigner] | None) -> list[ExpectedSigner] | None:
    seen: set[tuple[str | None, str | None]] = set()
    for i, signer in enumerate(signers or ()):
        key = (signer.iin, signer.bin)
        if key in seen:
            raise _at(str(i), "the same signer (IIN and BIN) is listed twice")
        seen.add(key)
    return signers


class _Envelope(_Model):
    language: Language
    external_id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w.:\-/]+$")] | None = None
    signers: Annotated[list[ExpectedSigner], Field(min_length=1, max_length=MAX_SIGNERS),
                       AfterValidator(_distinct_signers)] | None = Field(
        default=None,
        description="officials who sign with their own EDS, in signing order; without it the "
                    "server signs with its configured keys")


def _request_class(t: DocumentType, data_model: type[_Model]) -> type[_Envelope]:
    cls = type(
        f"{data_model.__name__.removesuffix('Data')}Request",
        (_Envelope,),
        {"__annotations__": {"type": Literal[t.value], "data": data_model}, "__module__": __name__},
    )
    return cls


REQUEST_MODELS = {t: _request_class(t, m) for t, m in DATA_MODELS.items()}

DocumentRequest = Annotated[
    Union[tuple(Annotated[m, Tag(t.value)] for t, m in REQUEST_MODELS.items())],
    Discriminator(
        lambda v: v.get("type") if isinstance(v, dict) else getattr(v, "type", None),
        custom_error_type="document_type",
        custom_error_message="'type' must be one of: " + ", ".join(t.value for t in DocumentType),
    ),
]

REQUEST_ADAPTER: TypeAdapter = TypeAdapter(DocumentRequest)

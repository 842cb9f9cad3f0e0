"""The catalog of state services: names, providers, deadlines, results and refusal grounds.

The data lives in ``services.yaml`` next to this module (the code scheme is documented at its top);
this module reads it once, checks its shape, and hands out frozen objects. A motivated refusal
takes its legal wording from here: ``load_catalog().get("301-03").ground("301-03.1")``.

Every legal source carries its validity as the seeds state it (number, date, in force from,
repealed on, by what). A document may cite a service's grounds only on a date its act was in
force: ``service.citation_problem(day)`` says why not, in words an error message can carry
(README.md next to this module, "Citing only what was in force").

Why the checks are strict: the wording printed on an official document comes from this file, so a
typo in a key, a ground filed under the wrong service or a Latin letter inside a Kazakh word must
stop the program at start-up, not show up on a refusal handed to a citizen.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Mapping

from kazakhstan.script import mixed_script_word

import yaml

__all__ = [
    "Bilingual",
    "Catalog",
    "CatalogError",
    "CitationProblem",
    "Deadline",
    "Designation",
    "GroundKind",
    "LegalSource",
    "RefusalGround",
    "Registration",
    "Service",
    "Source",
    "Validity",
    "UnknownGround",
    "UnknownService",
    "load_catalog",
    "read_catalog",
]

CATALOG_FILE = "services.yaml"

_SERVICE_CODE = re.compile(r"^[A-Z0-9]+-[0-9]{2}$")


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the file, the path inside it and the fix."""


class UnknownService(KeyError):
    """No service has this code."""

    def __init__(self, code: object) -> None:
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return f"unknown service code {self.code!r}: not in the service catalog"


class UnknownGround(KeyError):
    """The service has no refusal ground with this code (a refusal may cite only its own grounds)."""

    def __init__(self, service: str, code: object) -> None:
        super().__init__(code)
        self.service = service
        self.code = code

    def __str__(self) -> str:
        return f"service {self.service} has no refusal ground {self.code!r}"


@dataclass(frozen=True)
class Bilingual:
    """The same text in Kazakh (``kk``) and Russian (``ru``)."""

    kk: str
    ru: str

    def get(self, language: str) -> str:
        """The text in ``language`` (``"kk"`` or ``"ru"``)."""
        if language == "kk":
            return self.kk
        if language == "ru":
            return self.ru
        raise ValueError(f"language must be 'kk' or 'ru', not {language!r}")


class GroundKind(str, enum.Enum):
    """Where a refusal ground stands in its act."""

    #: listed among the act's grounds for refusing the state service
    REFUSAL = "refusal"
    #: refusal (or refusal to accept, or to consider further) over an incomplete or faulty set of
    #: documents, stated by the act outside its list of grounds
    INCOMPLETE_DOCUMENTS = "incomplete_documents"

    @classmethod
    def from_config(cls, value: str) -> "GroundKind":
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(k.value for k in cls)
            raise ValueError(f"kind must be one of {allowed}, not {value!r}") from None


@dataclass(frozen=True)
class RefusalGround:
    """One ground for refusing a service: its stable code, legal wording and legal basis."""

    code: str
    kind: GroundKind
    wording: Bilingual
    basis: Bilingual


@dataclass(frozen=True)
class Deadline:
    """The term of the service as the act words it, plus the number where the act gives one.

    At most one of ``working_days``, ``calendar_days`` and ``minutes`` is set: the longest term the
    act gives for the main result (e.g. 6 working days for an act, where a duplicate takes 4).
    """

    text: Bilingual
    working_days: int | None = None
    calendar_days: int | None = None
    minutes: int | None = None


_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")


def english_date(day: dt.date) -> str:
    """16 April 2014: how the error messages (English) write a date, whatever the process locale."""
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


class Validity(str, enum.Enum):
    """Whether an act could be cited on a given date."""

    IN_FORCE = "in_force"
    NOT_YET_IN_FORCE = "not_yet_in_force"
    REPEALED = "repealed"
    #: the seed does not say when the act was in force (no act, no date): never cited
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Designation:
    """How an act is named: in Kazakh, in Russian, and in English for error messages."""

    kk: str
    ru: str
    en: str


@dataclass(frozen=True)
class Registration:
    """State registration of a normative act (the Ministry of Justice or its department)."""

    number: str
    date: dt.date


@dataclass(frozen=True)
class LegalSource:
    """A legal act services come from, with its validity as the seeds state it.

    ``in_force_from`` is the first date a document may cite the act; the seeds give entry into
    force only as "N calendar days after first official publication", without that date, so it
    is the act's own date. ``repealed_on`` is the date of the repealing act: a document dated
    on or after it may not cite the act (the day the repeal took effect is not in the seeds,
    and it cannot be earlier). ``None`` where the seed does not state the item."""

    key: str
    name: Bilingual
    en: str
    number: str | None
    date: dt.date | None
    registered: Registration | None
    in_force_from: dt.date | None
    entry_into_force: str
    repealed_on: dt.date | None = None
    repealed_by: Designation | None = None

    def validity_on(self, day: dt.date) -> Validity:
        """Could a document dated ``day`` cite this act?"""
        if self.in_force_from is None:
            return Validity.UNKNOWN
        if day < self.in_force_from:
            return Validity.NOT_YET_IN_FORCE
        if self.repealed_on is not None and day >= self.repealed_on:
            return Validity.REPEALED
        return Validity.IN_FORCE

    def problem_on(self, day: dt.date) -> "CitationProblem | None":
        """Why a document dated ``day`` may not cite this act, or None when it may."""
        validity = self.validity_on(day)
        if validity is Validity.IN_FORCE:
            return None
        if validity is Validity.REPEALED:
            assert self.repealed_on is not None and self.repealed_by is not None
            message = (f"repealed on {english_date(self.repealed_on)}: {self.en} was repealed by "
                       f"{self.repealed_by.en}, and the document is dated {day.isoformat()}")
        elif validity is Validity.NOT_YET_IN_FORCE:
            assert self.in_force_from is not None
            message = (f"not yet in force on {day.isoformat()}: {self.en} is in force from "
                       f"{english_date(self.in_force_from)}")
        else:
            message = (f"in force on dates the catalog does not know: {self.en}; the seed gives "
                       f"no date, so it is never cited")
        return CitationProblem(validity, self, message)


@dataclass(frozen=True)
class CitationProblem:
    """Why a document of a given date may not cite an act (``message``: English, for a field
    error; it begins with the reason, e.g. "repealed on 16 April 2014: …")."""

    validity: Validity
    source: LegalSource
    message: str


@dataclass(frozen=True)
class Source:
    """Where a service comes from: the seed file(s), the act and the part of the act.

    ``wording`` is the act that gave the part the wording quoted in the catalog (decree No 722
    for standards 1-4 of decree No 1392), when it is not the act itself."""

    seeds: tuple[str, ...]
    act_key: str
    act: Bilingual
    item: Bilingual
    legal: LegalSource | None = None
    wording: LegalSource | None = None


@dataclass(frozen=True)
class Service:
    """A state service. ``None`` / empty means the seeds do not give that item."""

    code: str
    source: Source
    name: Bilingual
    provider: Bilingual | None
    deadline: Deadline | None
    result_documents: tuple[Bilingual, ...]
    refusal_document: Bilingual | None
    refusal_grounds: tuple[RefusalGround, ...]
    see_also: tuple[str, ...] = ()
    notes: str = ""

    def ground(self, code: str) -> RefusalGround:
        """The refusal ground ``code`` of this service; `UnknownGround` if it has none such."""
        for ground in self.refusal_grounds:
            if ground.code == code:
                return ground
        raise UnknownGround(self.code, code)

    @property
    def can_refuse(self) -> bool:
        """Whether a motivated refusal can be issued: only with at least one ground to cite."""
        return bool(self.refusal_grounds)

    def citation_problem(self, day: dt.date) -> CitationProblem | None:
        """Why a document dated ``day`` may not cite this service's act (its name, its grounds),
        or None when it may: the act must be in force, and the wording quoted must be too."""
        legal = self.source.legal
        if legal is None:  # a catalog built by hand without acts: nothing to judge by
            return None
        problem = legal.problem_on(day)
        if problem is not None:
            return problem
        wording = self.source.wording
        if wording is not None and wording.validity_on(day) in (Validity.NOT_YET_IN_FORCE, Validity.UNKNOWN):
            return CitationProblem(
                Validity.NOT_YET_IN_FORCE, wording,
                f"not yet in force on {day.isoformat()} in the wording quoted: the catalog quotes "
                f"{legal.en} in the wording of {wording.en}"
                + (f", in force from {english_date(wording.in_force_from)}" if wording.in_force_from else ""),
            )
        return None

    def grounds_in_force(self, day: dt.date) -> tuple[RefusalGround, ...]:
        """The grounds a document dated ``day`` may cite (none while the act is not in force)."""
        return () if self.citation_problem(day) else self.refusal_grounds


@dataclass(frozen=True)
class Catalog:
    """All services, in the order of the catalog file."""

    services: tuple[Service, ...]
    version: int
    _by_code: Mapping[str, Service] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {s.code: s for s in self.services})

    def get(self, code: str) -> Service:
        """The service with this code; `UnknownService` if there is none."""
        try:
            return self._by_code[code]
        except (KeyError, TypeError):
            raise UnknownService(code) from None

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.services)

    def from_seed(self, seed: str) -> tuple[Service, ...]:
        """The services that cite the seed file whose name starts with ``seed`` (e.g. ``"002"``)."""
        return tuple(s for s in self.services if any(f.startswith(seed) for f in s.source.seeds))


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalog shipped with the package (read and checked once per process)."""
    ref = resources.files(__name__).joinpath(CATALOG_FILE)
    return _parse(ref.read_text(encoding="utf-8"), origin=f"docgen/catalog/{CATALOG_FILE}")


def read_catalog(path: str | Path) -> Catalog:
    """Read and check a catalog file at ``path`` (not cached; for tools and tests)."""
    path = Path(path)
    return _parse(path.read_text(encoding="utf-8"), origin=str(path))


# --- parsing -------------------------------------------------------------------------------------


def _parse(text: str, origin: str) -> Catalog:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{origin}: not valid YAML: {exc}") from None
    return _Reader(origin).catalog(data)


class _Reader:
    """Turns the loaded YAML into objects, naming the path of the first problem it meets."""

    _SERVICE_KEYS = {
        "code", "source", "name", "provider", "deadline", "result_documents",
        "refusal_document", "refusal_grounds", "see_also", "notes",
    }
    _REQUIRED_SERVICE_KEYS = _SERVICE_KEYS - {"see_also", "notes"}
    _DEADLINE_NUMBERS = ("working_days", "calendar_days", "minutes")

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, path: str, reason: str) -> CatalogError:
        return CatalogError(f"{self.origin}: {path}: {reason}")

    def mapping(self, value: Any, path: str, keys: set[str], required: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping, not {type(value).__name__}")
        unknown = set(value) - keys
        if unknown:
            raise self.fail(path, f"unknown key(s) {sorted(map(str, unknown))}; allowed: {sorted(keys)}")
        missing = required - set(value)
        if missing:
            raise self.fail(path, f"missing key(s) {sorted(missing)}")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a non-empty string")
        word = mixed_script_word(value)
        if word is not None:
            raise self.fail(path, f"word {word!r} mixes Latin and Cyrillic letters (Latin i for і?)")
        return value.strip()

    def bilingual(self, value: Any, path: str) -> Bilingual:
        value = self.mapping(value, path, {"kk", "ru"}, {"kk", "ru"})
        return Bilingual(kk=self.text(value["kk"], f"{path}.kk"), ru=self.text(value["ru"], f"{path}.ru"))

    def optional_bilingual(self, value: Any, path: str) -> Bilingual | None:
        return None if value is None else self.bilingual(value, path)

    def sequence(self, value: Any, path: str) -> list:
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list, not {type(value).__name__}")
        return value

    def catalog(self, data: Any) -> Catalog:
        data = self.mapping(data, "<top>", {"version", "acts", "services"}, {"version", "acts", "services"})
        version = data["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.fail("version", "must be a positive integer")
        acts_raw = data["acts"]
        if not isinstance(acts_raw, dict) or not acts_raw:
            raise self.fail("acts", "must be a non-empty mapping of act key to an act")
        acts = {str(key): self.act(str(key), value, f"acts.{key}") for key, value in acts_raw.items()}
        raw_services = self.sequence(data["services"], "services")
        if not raw_services:
            raise self.fail("services", "must list at least one service")
        services = [self.service(raw, f"services[{i}]", acts) for i, raw in enumerate(raw_services)]
        self.check_references(services)
        return Catalog(services=tuple(services), version=version)

    _ACT_KEYS = {
        "kk", "ru", "en", "number", "date", "registered", "in_force_from", "entry_into_force",
        "repealed_on", "repealed_by",
    }

    def date(self, value: Any, path: str) -> dt.date | None:
        if value is None:
            return None
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise self.fail(path, f"must be a date (YYYY-MM-DD) or null, not {value!r}")
        return value

    def act(self, key: str, raw: Any, path: str) -> LegalSource:
        raw = self.mapping(raw, path, self._ACT_KEYS, self._ACT_KEYS)
        name = Bilingual(kk=self.text(raw["kk"], f"{path}.kk"), ru=self.text(raw["ru"], f"{path}.ru"))
        number = raw["number"]
        if number is not None and (not isinstance(number, str) or not number.strip()):
            raise self.fail(f"{path}.number", "must be a string (quote it) or null")
        date = self.date(raw["date"], f"{path}.date")
        registered = None
        if raw["registered"] is not None:
            reg = self.mapping(raw["registered"], f"{path}.registered", {"number", "date"}, {"number", "date"})
            reg_date = self.date(reg["date"], f"{path}.registered.date")
            if not isinstance(reg["number"], str) or reg_date is None:
                raise self.fail(f"{path}.registered", "needs a number (a string) and a date")
            registered = Registration(reg["number"], reg_date)
        in_force_from = self.date(raw["in_force_from"], f"{path}.in_force_from")
        repealed_on = self.date(raw["repealed_on"], f"{path}.repealed_on")
        if in_force_from is not None and (date is None or in_force_from < date):
            raise self.fail(f"{path}.in_force_from", "an act is not in force before its own date")
        if repealed_on is not None and (in_force_from is None or repealed_on <= in_force_from):
            raise self.fail(f"{path}.repealed_on", "must come after in_force_from")
        repealed_by = None
        if raw["repealed_by"] is not None:
            by = self.mapping(raw["repealed_by"], f"{path}.repealed_by", {"kk", "ru", "en"}, {"kk", "ru", "en"})
            repealed_by = Designation(*(self.text(by[k], f"{path}.repealed_by.{k}") for k in ("kk", "ru", "en")))
        if (repealed_on is None) != (repealed_by is None):
            raise self.fail(path, "give repealed_on and repealed_by together (both null while in force)")
        return LegalSource(
            key=key, name=name, en=self.text(raw["en"], f"{path}.en"), number=number, date=date,
            registered=registered, in_force_from=in_force_from,
            entry_into_force=self.text(raw["entry_into_force"], f"{path}.entry_into_force"),
            repealed_on=repealed_on, repealed_by=repealed_by,
        )

    def service(self, raw: Any, path: str, acts: Mapping[str, LegalSource]) -> Service:
        raw = self.mapping(raw, path, self._SERVICE_KEYS, self._REQUIRED_SERVICE_KEYS)
        code = raw["code"]
        if not isinstance(code, str) or not _SERVICE_CODE.match(code):
            raise self.fail(f"{path}.code", f"{code!r} is not a service code like '301-03' or '1392-11'")
        path = f"{path} ({code})"
        grounds = tuple(
            self.ground(g, f"{path}.refusal_grounds[{i}]", code)
            for i, g in enumerate(self.sequence(raw["refusal_grounds"], f"{path}.refusal_grounds"))
        )
        see_also = self.sequence(raw.get("see_also", []), f"{path}.see_also")
        notes = raw.get("notes", "")
        return Service(
            code=code,
            source=self.source(raw["source"], f"{path}.source", acts),
            name=self.bilingual(raw["name"], f"{path}.name"),
            provider=self.optional_bilingual(raw["provider"], f"{path}.provider"),
            deadline=self.deadline(raw["deadline"], f"{path}.deadline"),
            result_documents=tuple(
                self.bilingual(d, f"{path}.result_documents[{i}]")
                for i, d in enumerate(self.sequence(raw["result_documents"], f"{path}.result_documents"))
            ),
            refusal_document=self.optional_bilingual(raw["refusal_document"], f"{path}.refusal_document"),
            refusal_grounds=grounds,
            see_also=tuple(self.text(c, f"{path}.see_also[{i}]") for i, c in enumerate(see_also)),
            notes=self.text(notes, f"{path}.notes") if notes else "",
        )

    def source(self, raw: Any, path: str, acts: Mapping[str, LegalSource]) -> Source:
        raw = self.mapping(raw, path, {"seeds", "act", "item", "wording"}, {"seeds", "act", "item"})
        seeds = self.sequence(raw["seeds"], f"{path}.seeds")
        if not seeds:
            raise self.fail(f"{path}.seeds", "must name at least one seed file")
        act_key = str(raw["act"])
        if act_key not in acts:
            raise self.fail(f"{path}.act", f"{act_key!r} is not a key of `acts` ({sorted(acts)})")
        wording = None
        if "wording" in raw:
            wording_key = str(raw["wording"])
            if wording_key not in acts or wording_key == act_key:
                raise self.fail(f"{path}.wording", f"{wording_key!r} is not another key of `acts` ({sorted(acts)})")
            wording = acts[wording_key]
        return Source(
            seeds=tuple(self.text(s, f"{path}.seeds[{i}]") for i, s in enumerate(seeds)),
            act_key=act_key,
            act=acts[act_key].name,
            item=self.bilingual(raw["item"], f"{path}.item"),
            legal=acts[act_key],
            wording=wording,
        )

    def deadline(self, raw: Any, path: str) -> Deadline | None:
        if raw is None:
            return None
        keys = {"kk", "ru", *self._DEADLINE_NUMBERS}
        raw = self.mapping(raw, path, keys, {"kk", "ru"})
        numbers = {k: raw[k] for k in self._DEADLINE_NUMBERS if k in raw}
        if len(numbers) > 1:
            raise self.fail(path, f"give at most one of {', '.join(self._DEADLINE_NUMBERS)}")
        for key, value in numbers.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise self.fail(f"{path}.{key}", "must be a positive whole number")
        return Deadline(text=self.bilingual({"kk": raw["kk"], "ru": raw["ru"]}, path), **numbers)

    def ground(self, raw: Any, path: str, service_code: str) -> RefusalGround:
        keys = {"code", "kind", "kk", "ru", "basis"}
        raw = self.mapping(raw, path, keys, keys)
        code = raw["code"]
        if not isinstance(code, str) or not re.fullmatch(re.escape(service_code) + r"\.d?[1-9][0-9]*", code):
            raise self.fail(
                f"{path}.code", f"{code!r} must be '{service_code}.<N>' or '{service_code}.d<N>'"
            )
        try:
            kind = GroundKind.from_config(raw["kind"])
        except ValueError as exc:
            raise self.fail(f"{path}.kind", str(exc)) from None
        return RefusalGround(
            code=code,
            kind=kind,
            wording=self.bilingual({"kk": raw["kk"], "ru": raw["ru"]}, path),
            basis=self.bilingual(raw["basis"], f"{path}.basis"),
        )

    def check_references(self, services: list[Service]) -> None:
        seen: dict[str, int] = {}
        grounds: set[str] = set()
        for i, service in enumerate(services):
            if service.code in seen:
                raise self.fail(
                    f"services[{i}].code", f"{service.code} already used by services[{seen[service.code]}]"
                )
            seen[service.code] = i
            for ground in service.refusal_grounds:
                if ground.code in grounds:
                    raise self.fail(f"services[{i}] ({service.code})", f"ground code {ground.code} repeated")
                grounds.add(ground.code)
        for i, service in enumerate(services):
            for other in service.see_also:
                if other not in seen:
                    raise self.fail(f"services[{i}] ({service.code}).see_also", f"no service {other!r}")

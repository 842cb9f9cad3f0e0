"""The catalog of state services: names, providers, deadlines, results and refusal grounds.

The data lives in ``services.yaml`` next to this module (the code scheme is documented at its top);
this module reads it once, checks its shape, and hands out frozen objects. A motivated refusal
takes its legal wording from here: ``load_catalog().get("1392-01").ground("1392-01.1")``.

Why the checks are strict: the wording printed on an official document comes from this file, so a
typo in a key, a ground filed under the wrong service or a Latin letter inside a Kazakh word must
stop the program at start-up, not show up on a refusal handed to a citizen.
"""

from __future__ import annotations

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
    "Deadline",
    "GroundKind",
    "RefusalGround",
    "Service",
    "Source",
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


@dataclass(frozen=True)
class Source:
    """Where a service comes from: the seed file(s), the act and the part of the act."""

    seeds: tuple[str, ...]
    act_key: str
    act: Bilingual
    item: Bilingual


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
            raise self.fail("acts", "must be a non-empty mapping of act key to {kk, ru}")
        acts = {str(key): self.bilingual(value, f"acts.{key}") for key, value in acts_raw.items()}
        raw_services = self.sequence(data["services"], "services")
        if not raw_services:
            raise self.fail("services", "must list at least one service")
        services = [self.service(raw, f"services[{i}]", acts) for i, raw in enumerate(raw_services)]
        self.check_references(services)
        return Catalog(services=tuple(services), version=version)

    def service(self, raw: Any, path: str, acts: Mapping[str, Bilingual]) -> Service:
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

    def source(self, raw: Any, path: str, acts: Mapping[str, Bilingual]) -> Source:
        raw = self.mapping(raw, path, {"seeds", "act", "item"}, {"seeds", "act", "item"})
        seeds = self.sequence(raw["seeds"], f"{path}.seeds")
        if not seeds:
            raise self.fail(f"{path}.seeds", "must name at least one seed file")
        act_key = str(raw["act"])
        if act_key not in acts:
            raise self.fail(f"{path}.act", f"{act_key!r} is not a key of `acts` ({sorted(acts)})")
        return Source(
            seeds=tuple(self.text(s, f"{path}.seeds[{i}]") for i, s in enumerate(seeds)),
            act_key=act_key,
            act=acts[act_key],
            item=self.bilingual(raw["item"], f"{path}.item"),
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

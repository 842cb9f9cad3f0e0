"""The process's configuration: read from the environment once, frozen, validated.

Every knob of a qujat process is here and nowhere else; the composition root
(`qujat.runtime.open_runtime`) builds the converter pool, templates, signing key and the store
from one `Settings`. Secrets are never held: a signing key's password is named by a file path, and
`repr()` shows paths only (DATABASE_URL may carry a database password: it is left out of `repr()`).

| variable                      | default                       | meaning                                    |
|-------------------------------|-------------------------------|--------------------------------------------|
| QUJAT_DATA_DIR                | data                          | records, blobs, the dev PKI                |
| DATABASE_URL                  | <data dir>/qujat.sqlite3      | the store: SQLite, or postgresql://…       |
| QUJAT_PUBLIC_BASE_URL         | http://127.0.0.1:8000         | base of the verification URL in the QR     |
| QUJAT_TEMPLATES_DIR           | (the packaged templates)      | folder with manifest.yaml, kk/, ru/        |
| QUJAT_TIMEZONE                | Asia/Almaty                   | whose calendar "today" is                  |
| QUJAT_POOL_SIZE               | CPUs this process may use     | LibreOffice workers                        |
| QUJAT_CONVERT_TIMEOUT         | 60                            | seconds one conversion may take            |
| QUJAT_CONVERT_START_TIMEOUT   | 60                            | seconds a worker may take to start         |
| QUJAT_CONVERT_QUEUE_TIMEOUT   | 30                            | seconds a job waits for a free worker      |
| QUJAT_SIGNER_PKCS12           | (none: the dev PKI's signer)  | the organisation's PKCS#12 key file        |
| QUJAT_SIGNER_PASSWORD_FILE    | (none)                        | file holding that key's password           |
| QUJAT_SIGNER2_PKCS12          | (the first key; dev PKI: its  | the authority head's key: the second       |
|                               | authority head)               | signature of a cadastral value act         |
| QUJAT_SIGNER2_PASSWORD_FILE   | (none)                        | file holding that key's password           |
| QUJAT_SIGN_LEVEL              | B-LT with QUJAT_TSA_URL set,  | PAdES level of issued documents: B-B, B-T, |
|                               | else B-B                      | B-LT                                       |
| QUJAT_TSA_URL                 | (none)                        | RFC 3161 timestamp service (B-T, B-LT)     |
| QUJAT_TRUST_ANCHORS           | (none: the dev PKI's root)    | CA certificate files, separated by ':'     |
| QUJAT_VERIFY_ONLINE           | false                         | fetch CRL/OCSP when verifying              |
| QUJAT_FETCH_ALLOW_PRIVATE     | false                         | let those fetches reach private addresses  |
| QUJAT_FETCH_TIME_BUDGET       | 10                            | seconds all fetches of one verification    |
| QUJAT_NCALAYER_URL            | wss://127.0.0.1:13579         | where the signing page's script finds      |
|                               |                               | NCALayer on the official's computer        |
| QUJAT_SIGNATURE_REVOCATION    | require                       | an official's certificate's revocation     |
|                               |                               | status when the CMS is taken: require      |
|                               |                               | (unknown → 503), try (unknown accepted),   |
|                               |                               | off (not checked)                          |
| QUJAT_REVOCATION_MAX_AGE      | 300                           | seconds a CRL/OCSP answer of the signer's  |
|                               |                               | chain is reused (never past nextUpdate)    |
| QUJAT_ALLOW_NCA_TEST_IDENTITIES | false                       | accept the NCA's test person/organisation  |
|                               |                               | as expected signers (test stands only)     |

Signing level. With a timestamp service configured and no QUJAT_SIGN_LEVEL, documents are signed
at B-LT: the signature timestamp plus, in the document security store, the CRLs and OCSP answers
of the signer's chain, fetched at signing time from the URLs in the configured signer's own
certificates (the organisation's CA, or the dev PKI on loopback; each download time-limited, see
`signing.netfetch`), so that the archive can later extend the version to B-LTA. Without a TSA the
default is B-B. An explicit QUJAT_SIGN_LEVEL always wins; B-T and B-LT without QUJAT_TSA_URL are
refused. In `Settings(...)` the same rule applies to ``sign_level=None`` (the default).
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kazakhstan.dates import DEFAULT_TIMEZONE, today_in

__all__ = ["Settings", "SettingsError", "available_cpus", "SIGN_LEVELS"]

SIGN_LEVELS = ("B-B", "B-T", "B-LT")    # what an issued document may be signed at
SIGNATURE_REVOCATION_MODES = ("require", "try", "off")     # QUJAT_SIGNATURE_REVOCATION
DEFAULT_NCALAYER_URL = "wss://127.0.0.1:13579"    # where NCALayer listens on an official's computer


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable."""


BATCH_STALLED_MIN = 5.0     # seconds: more than two of a batch worker's 2-second heartbeats


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which a container's cpuset narrows),
    not the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _bool(name: str, raw: str) -> bool:
    v = raw.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _number(name: str, raw: str, kind, minimum) -> int | float:
    try:
        value = kind(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    public_base_url: str = "http://127.0.0.1:8000"
    templates_dir: Path | None = None
    timezone: str = DEFAULT_TIMEZONE
    pool_size: int = field(default_factory=available_cpus)
    convert_timeout: float = 60.0
    convert_start_timeout: float = 60.0
    convert_queue_timeout: float = 30.0
    signer_pkcs12: Path | None = None
    signer_password_file: Path | None = None
    signer2_pkcs12: Path | None = None
    signer2_password_file: Path | None = None
    sign_level: str | None = None      # None: B-LT with a TSA, else B-B (resolved in __post_init__)
    tsa_url: str | None = None
    trust_anchors: tuple[Path, ...] = ()
    verify_online: bool = False
    fetch_allow_private: bool = False
    fetch_time_budget: float = 10.0
    database_url: str | None = field(default=None, repr=False)
    ncalayer_url: str = DEFAULT_NCALAYER_URL
    # PostgreSQL batches: a worker silent (no heartbeat) this long is dead and its jobs are queued
    # again (QUJAT_BATCH_STALLED_AFTER, seconds; workers beat every 2 s)
    batch_stalled_after: float = 8.0
    # expected signers may be the NCA's published test identities (ТЕСТОВ ТЕСТ: IIN 123456789011,
    # BIN 123456789021): test and acceptance stands only (QUJAT_ALLOW_NCA_TEST_IDENTITIES)
    allow_nca_test_identities: bool = False
    # seconds a CRL/OCSP answer of a signer's chain is reused for B-LT signing, never past its
    # nextUpdate minus a minute (QUJAT_REVOCATION_MAX_AGE; 0: fetched for every signature)
    revocation_max_age: float = 300.0
    # an official's certificate's revocation status when the CMS is taken (qujat.signflow):
    # require (else 503, nothing changes), try (unknown accepted, audited), off (not checked)
    signature_revocation: str = "require"

    def __post_init__(self) -> None:
        url = urlsplit(self.public_base_url)
        if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
            raise SettingsError(
                f"QUJAT_PUBLIC_BASE_URL: expected an http(s) URL such as https://qujat.example.kz, "
                f"got {self.public_base_url!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"QUJAT_TIMEZONE: unknown time zone {self.timezone!r}") from None
        if self.batch_stalled_after < BATCH_STALLED_MIN:
            raise SettingsError(f"QUJAT_BATCH_STALLED_AFTER: must be at least {BATCH_STALLED_MIN} "
                                "(more than two heartbeats of a batch worker)")
        if self.pool_size < 1:
            raise SettingsError("QUJAT_POOL_SIZE: must be at least 1")
        if self.signature_revocation not in SIGNATURE_REVOCATION_MODES:
            raise SettingsError("QUJAT_SIGNATURE_REVOCATION: expected require, try or off, "
                                f"got {self.signature_revocation!r}")
        if not 0 <= self.revocation_max_age <= 86_400:         # also refuses nan and inf
            raise SettingsError("QUJAT_REVOCATION_MAX_AGE: seconds from 0 to 86400, "
                                f"got {self.revocation_max_age!r}")
        if self.database_url is not None and urlsplit(self.database_url).scheme.split("+")[0] not in (
                "sqlite", "postgresql", "postgres"):
            raise SettingsError("DATABASE_URL: expected sqlite:///… or postgresql://…")
        if (self.signer_pkcs12 is None) != (self.signer_password_file is None):
            raise SettingsError(
                "QUJAT_SIGNER_PKCS12 and QUJAT_SIGNER_PASSWORD_FILE are set together or not at all")
        if (self.signer2_pkcs12 is None) != (self.signer2_password_file is None):
            raise SettingsError(
                "QUJAT_SIGNER2_PKCS12 and QUJAT_SIGNER2_PASSWORD_FILE are set together or not at all")
        if self.signer2_pkcs12 is not None and self.signer_pkcs12 is None:
            raise SettingsError("QUJAT_SIGNER2_PKCS12 needs QUJAT_SIGNER_PKCS12 (the first signer)")
        if self.sign_level is None:
            object.__setattr__(self, "sign_level", "B-LT" if self.tsa_url else "B-B")
        if self.sign_level not in SIGN_LEVELS:
            raise SettingsError(f"QUJAT_SIGN_LEVEL: expected one of {', '.join(SIGN_LEVELS)}, "
                                f"got {self.sign_level!r}")
        if self.sign_level != "B-B" and not self.tsa_url:
            raise SettingsError(f"QUJAT_SIGN_LEVEL {self.sign_level} needs QUJAT_TSA_URL")
        if self.tsa_url is not None and urlsplit(self.tsa_url).scheme not in ("http", "https"):
            raise SettingsError(f"QUJAT_TSA_URL: expected an http(s) URL, got {self.tsa_url!r}")
        nca = urlsplit(self.ncalayer_url)
        if nca.scheme not in ("ws", "wss") or not nca.hostname or nca.path not in ("", "/") \
                or nca.query or nca.fragment or any(c in self.ncalayer_url for c in "'\"<> ;"):
            raise SettingsError("QUJAT_NCALAYER_URL: expected ws(s)://host:port such as "
                                f"wss://127.0.0.1:13579, got {self.ncalayer_url!r}")

    def today(self, utc_now: dt.datetime | None = None) -> dt.date:
        """The calendar date in the configured time zone now (or at ``utc_now``)."""
        return today_in(self.timezone, utc_now=utc_now)

    def parse_request(self, raw, utc_now: dt.datetime | None = None):
        """``raw`` validated under these settings (`docgen.request.parse_request`): dated by
        `today` (at ``utc_now``), NCA test identities as `allow_nca_test_identities` says."""
        from docgen.request import parse_request

        return parse_request(raw, today=self.today(utc_now),
                             allow_nca_test_identities=self.allow_nca_test_identities)

    @property
    def uses_dev_pki(self) -> bool:
        """No signing key configured: the dev PKI in ``data_dir/pki`` signs (made on first use)."""
        return self.signer_pkcs12 is None

    @property
    def dev_pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the embedded default: SQLite in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'qujat.sqlite3'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read every QUJAT_* variable once. Unset or empty means the default."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            v = env.get(name)
            return v if v not in (None, "") else None

        kw: dict = {}
        if (v := get("QUJAT_DATA_DIR")) is not None:
            kw["data_dir"] = Path(v)
        if (v := get("QUJAT_PUBLIC_BASE_URL")) is not None:
            kw["public_base_url"] = v.rstrip("/")
        if (v := get("QUJAT_TEMPLATES_DIR")) is not None:
            kw["templates_dir"] = Path(v)
        if (v := get("QUJAT_TIMEZONE")) is not None:
            kw["timezone"] = v
        if (v := get("QUJAT_POOL_SIZE")) is not None:
            kw["pool_size"] = _number("QUJAT_POOL_SIZE", v, int, 1)
        for name, key in (("QUJAT_CONVERT_TIMEOUT", "convert_timeout"),
                          ("QUJAT_CONVERT_START_TIMEOUT", "convert_start_timeout"),
                          ("QUJAT_CONVERT_QUEUE_TIMEOUT", "convert_queue_timeout"),
                          ("QUJAT_FETCH_TIME_BUDGET", "fetch_time_budget")):
            if (v := get(name)) is not None:
                kw[key] = float(_number(name, v, float, 0.1))
        if (v := get("QUJAT_SIGNER_PKCS12")) is not None:
            kw["signer_pkcs12"] = Path(v)
        if (v := get("QUJAT_SIGNER_PASSWORD_FILE")) is not None:
            kw["signer_password_file"] = Path(v)
        if (v := get("QUJAT_SIGNER2_PKCS12")) is not None:
            kw["signer2_pkcs12"] = Path(v)
        if (v := get("QUJAT_SIGNER2_PASSWORD_FILE")) is not None:
            kw["signer2_password_file"] = Path(v)
        if (v := get("QUJAT_SIGN_LEVEL")) is not None:
            kw["sign_level"] = v.strip().upper().replace("_", "-")
        if (v := get("QUJAT_TSA_URL")) is not None:
            kw["tsa_url"] = v
        if (v := get("QUJAT_TRUST_ANCHORS")) is not None:
            kw["trust_anchors"] = tuple(Path(p) for p in v.split(os.pathsep) if p)
        if (v := get("QUJAT_VERIFY_ONLINE")) is not None:
            kw["verify_online"] = _bool("QUJAT_VERIFY_ONLINE", v)
        if (v := get("QUJAT_FETCH_ALLOW_PRIVATE")) is not None:
            kw["fetch_allow_private"] = _bool("QUJAT_FETCH_ALLOW_PRIVATE", v)
        if (v := get("QUJAT_SIGNATURE_REVOCATION")) is not None:
            kw["signature_revocation"] = v.strip().lower()
        if (v := get("QUJAT_REVOCATION_MAX_AGE")) is not None:
            kw["revocation_max_age"] = _number("QUJAT_REVOCATION_MAX_AGE", v, float, 0)
        if (v := get("QUJAT_ALLOW_NCA_TEST_IDENTITIES")) is not None:
            kw["allow_nca_test_identities"] = _bool("QUJAT_ALLOW_NCA_TEST_IDENTITIES", v)
        if (v := get("DATABASE_URL")) is not None:
            kw["database_url"] = v
        if (v := get("QUJAT_BATCH_STALLED_AFTER")) is not None:
            kw["batch_stalled_after"] = _number("QUJAT_BATCH_STALLED_AFTER", v, float, BATCH_STALLED_MIN)
        if (v := get("QUJAT_NCALAYER_URL")) is not None:
            kw["ncalayer_url"] = v.rstrip("/")
        return cls(**kw)

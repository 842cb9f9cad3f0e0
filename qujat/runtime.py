"""The composition root: the one place that builds and closes what a qujat process uses.

Every shell — the CLI, (later) the web app's lifespan and the job worker — does::

    settings = Settings.from_env()
    with open_runtime(settings, convert=True, sign=True) as rt:
        request = rt.parse(raw)                 # validated against Kazakhstan's "today"
        rendered = rt.renderer.render(request, today=rt.today())

`open_runtime` builds, from one frozen `Settings`: the template set, the LibreOffice converter
pool (sized by the CPUs this process may use, bounded queue wait), the signing keys by role
(`Runtime.signers`: the enterprise head's, and the authority head's for the act that needs both), the
TSA client and the signer chains' revocation-data cache (B-LT), the trust anchors and the records
store (`store.Store`); it closes them in reverse order when the block ends, also on error.
Nothing here is kept at module level: two runtimes in one process (tests) are independent.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docgen.convert import ConverterPool
from docgen.render import Renderer
from docgen.templates import TemplateStore, packaged_templates_dir
from qujat.settings import Settings
from signing.netfetch import FetchPolicy, RevocationCache, TsaClient

if TYPE_CHECKING:
    from store import Store

__all__ = ["Runtime", "open_runtime", "utc_now", "ENTERPRISE_HEAD", "AUTHORITY_HEAD"]

# The roles that sign issued documents (`Runtime.signers`): the cadastre enterprise's head signs
# every document; the authority's head signs a cadastral value act second.
ENTERPRISE_HEAD = "enterprise_head"
AUTHORITY_HEAD = "authority_head"


def utc_now() -> dt.datetime:
    """The real clock (aware, UTC). Tests inject another."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Runtime:
    """What one process works with. Built and closed only by `open_runtime`."""

    settings: Settings
    templates: TemplateStore
    renderer: Renderer
    converter: ConverterPool | None
    signer: Any | None                 # a pyHanko Signer (signing.keys), None if not asked for
                                       # (the enterprise head's: signers[ENTERPRISE_HEAD])
    trust_anchors: tuple[Path, ...]    # CA certificates a verification trusts
    clock: Callable[[], dt.datetime]
    store: Store | None = None         # the records store, None if not asked for
    signers: Mapping[str, Any] = field(default_factory=dict)  # role → Signer, empty if not asked for
    # B-T/B-LT: the TSA client (its connection kept) and the signer chains' CRL/OCSP answers
    # reused while fresh; None without QUJAT_TSA_URL or when signing keys were not asked for
    timestamper: TsaClient | None = None
    revocation: RevocationCache | None = None

    @property
    def fetch_policy(self) -> FetchPolicy:
        """What a verification may download (CRL/OCSP): nothing unless QUJAT_VERIFY_ONLINE;
        public addresses only unless QUJAT_FETCH_ALLOW_PRIVATE; QUJAT_FETCH_TIME_BUDGET in all."""
        s = self.settings
        return FetchPolicy(enabled=s.verify_online, allow_private=s.fetch_allow_private,
                           time_budget_s=s.fetch_time_budget,
                           per_request_timeout_s=min(3.0, s.fetch_time_budget))

    def today(self) -> dt.date:
        """Today in the configured time zone (Asia/Almaty by default)."""
        return self.settings.today(self.clock())

    def parse(self, raw: Any):
        """A validated request (or `docgen.errors.RequestInvalid`), dated by `today()`."""
        return self.settings.parse_request(raw, self.clock())


@contextlib.contextmanager
def open_runtime(settings: Settings, *, convert: bool = True, sign: bool = False,
                 store: bool = False,
                 clock: Callable[[], dt.datetime] = utc_now) -> Iterator[Runtime]:
    """Build the process's parts from ``settings``; close them when the block ends.

    ``convert``: start the LibreOffice pool (``settings.pool_size`` warm workers).
    ``sign``: load the signing keys — the configured PKCS#12 (and QUJAT_SIGNER2_PKCS12 for the
    authority head, else the same key), or the dev PKI's enterprise-head and authority-head signers
    (the dev PKI is made in ``settings.dev_pki_dir`` on first use; that needs the ``devpki`` extra);
    with QUJAT_TSA_URL also the TSA client and the revocation-data cache that B-LT signatures
    share (``Runtime.timestamper``, ``Runtime.revocation``: this runtime's, never another's).
    ``store``: open the records store at ``settings.effective_database_url`` (migrated to the
    newest schema), blobs in ``settings.data_dir / "blobs"``.
    """
    with contextlib.ExitStack() as stack:
        templates = TemplateStore(settings.templates_dir or packaged_templates_dir())
        converter = None
        if convert:
            converter = stack.enter_context(ConverterPool(
                settings.pool_size,
                job_timeout=settings.convert_timeout,
                start_timeout=settings.convert_start_timeout,
                queue_timeout=settings.convert_queue_timeout,
            ))
        signers, anchors = {}, settings.trust_anchors
        timestamper = revocation = None
        if sign:
            signers, dev_anchors = _signers(settings, stack)
            anchors = anchors or dev_anchors
            if settings.tsa_url:
                # every token is checked (imprint, TSA signature, chain to an anchor, purpose)
                # before it goes into a document: the TSA may be reached over plain HTTP
                timestamper = stack.enter_context(TsaClient(settings.tsa_url, trust_roots=anchors))
                revocation = RevocationCache(max_age_s=settings.revocation_max_age)
        records = None
        if store:
            from store import Store

            records = stack.enter_context(Store.open(
                settings.effective_database_url, settings.data_dir / "blobs", clock=clock))

        renderer = Renderer(templates=templates, converter=converter,
                            base_url=settings.public_base_url,
                            today=lambda: settings.today(clock()))
        yield Runtime(settings=settings, templates=templates, renderer=renderer,
                      converter=converter, signer=signers.get(ENTERPRISE_HEAD),
                      trust_anchors=tuple(anchors), clock=clock, store=records, signers=signers,
                      timestamper=timestamper, revocation=revocation)


def _signers(settings: Settings, stack: contextlib.ExitStack) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """The configured keys by role, or the dev PKI's two heads and its root as trust anchor.
    Keys are held by a `KeyRing` that the runtime closes (PKCS#11 sessions included)."""
    from signing.keys import KeyRing, read_secret

    keys = stack.enter_context(KeyRing())
    if settings.signer_pkcs12 is not None:
        first = keys.load_pkcs12(settings.signer_pkcs12, read_secret(file=settings.signer_password_file))
        second = first
        if settings.signer2_pkcs12 is not None:
            second = keys.load_pkcs12(settings.signer2_pkcs12,
                                      read_secret(file=settings.signer2_password_file))
        return {ENTERPRISE_HEAD: first, AUTHORITY_HEAD: second}, ()
    pki = dev_pki(settings.dev_pki_dir)
    password = read_secret(file=pki.password_file)
    return {ENTERPRISE_HEAD: keys.load_pkcs12(pki.p12("enterprise-head"), password),
            AUTHORITY_HEAD: keys.load_pkcs12(pki.p12("authority-head"), password)}, (Path(pki.root_cert),)


def dev_pki(directory: Path):
    """The dev PKI in ``directory``, made on first use (development and tests only; building it
    needs the ``devpki`` extra, else `signing.errors.PkiError` says so)."""
    from signing.pki import init_dev_pki, load_dev_pki

    if (directory / "pki.json").is_file():
        return load_dev_pki(directory)
    return init_dev_pki(directory)

"""The official's signing page: a short-lived, single-use ticket opens a document that awaits the
official's own signature; the browser asks NCALayer (the NCA's desktop app, over a local
WebSocket) for a detached CMS over the document's digest and posts it back.

| route                                   | what                                                  |
|-----------------------------------------|-------------------------------------------------------|
| GET  /sign/{id}?ticket=…                | a good ticket: 303 to ``/sign/{id}``, the ticket now  |
|                                         | in a cookie; that URL: the document's pages, who must |
|                                         | sign, "Sign"                                          |
| GET  /sign/{id}/pages/{n}.png           | page n of the PDF being signed, as a PNG (pdftoppm)   |
| POST /sign/{id}/signature               | ``{"cms": "<base64 DER>"}`` → the record's new state  |
| GET  /assets/sign/{name}                | sign.js and sign.css (immutable, hash in the name)    |

The ticket is checked on every request (`qujat.signflow.check_ticket`) and consumed by the
signature (`submit_with_ticket`). It arrives once in the link's query; the page then moves it into
a cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS, its path the record's
``/sign/{id}``, gone when the browser closes or the signature is in) and sends the browser to the
same address without it, so that the ticket is neither in the address bar, the history, a
bookmark, nor the URLs of the page's images and its POST. A ``?ticket=`` on those still works. A missing or unknown ticket, or one of another record, is 403;
an expired or used one is 410; either as a page in the official's language (kk / ru / en, as the
public page chooses it). No key material reaches the server: only the CMS that NCALayer made.
The ticket stays on our origin: ``Referrer-Policy: no-referrer``, a CSP that allows connections
only to this origin and the NCALayer URL, ``Cache-Control: no-store``; the servers' access logs
write ``ticket=<redacted>`` (`RedactTickets`, installed by `make_sign_router`).

The NCALayer URL is the router's option (`make_sign_router(ncalayer_url=…)`), by default the
real app's ``wss://127.0.0.1:13579``; tests point it at a stand-in.
"""
from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import json
import logging
import re
import subprocess
import tempfile
import threading
import uuid
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from qujat.web.facts import describe
from qujat.settings import DEFAULT_NCALAYER_URL
from qujat.web.i18n import LANGUAGE_NAMES, LANGS, negotiate, phrase_in
from qujat.web.i18n import text as public_text
from qujat.web.mask import mask_iin
from qujat.web.routes import runtime_of
from store import Conflict, NotFound

__all__ = ["make_sign_router", "DEFAULT_NCALAYER_URL", "WORDS", "words", "RedactTickets", "redact_access_logs"]

log = logging.getLogger(__name__)

#: Where the real NCALayer listens.
MAX_CMS_BODY = 256 * 1024              # a CMS with a TSP token is ~10 KiB; its base64 in JSON
PAGE_WIDTH_PX = 1240                   # a page image's width (sharp on a phone at 3x, legible on a desktop)
RENDER_TIMEOUT_S = 20.0
RENDER_WAIT_S = 15.0                   # how long a page request waits for a poppler slot
MAX_PAGES = 50
MAX_RENDERS = 2                        # poppler processes at once per app (the page images)
MAX_RENDER_QUEUE = 8                   # page requests that may wait for them
_CACHE_ENTRIES = 64

_ENV = Environment(loader=PackageLoader("qujat.web", "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_STATE_LOCK = threading.Lock()
_URL = re.compile(r"^wss?://[A-Za-z0-9.\-\[\]:]+(?::\d{1,5})?/?$")


# -- words ------------------------------------------------------------------------------------

WORDS: dict[str, dict[str, str]] = {
    "site": {"kk": "Құжатқа қол қою", "ru": "Подписание документа", "en": "Signing a document"},
    "intro": {"kk": "Құжатты мұқият оқып шығыңыз. Қол қою үшін компьютеріңізде NCALayer бағдарламасы "
                    "іске қосылған болуы керек.",
              "ru": "Внимательно прочитайте документ. Для подписания на компьютере должна быть запущена "
                    "программа NCALayer.",
              "en": "Read the document carefully. To sign it, NCALayer must be running on your computer."},
    "step": {"kk": "{total} қолтаңбаның {n}-сі", "ru": "Подпись {n} из {total}",
             "en": "Signature {n} of {total}"},
    "expected_heading": {"kk": "Кім қол қоюы тиіс", "ru": "Кто должен подписать", "en": "Who must sign"},
    "role": {"kk": "Қол қоюшы", "ru": "Подписант", "en": "Signer"},
    "iin": {"kk": "ЖСН", "ru": "ИИН", "en": "IIN"},
    "bin": {"kk": "БСН", "ru": "БИН", "en": "BIN"},
    "key_note": {"kk": "NCALayer терезесінде осы ЖСН (БСН) жазылған қол қоюға арналған ЭЦҚ кілтін таңдаңыз.",
                 "ru": "В окне NCALayer выберите ключ ЭЦП для подписи, в котором указан этот ИИН (БИН).",
                 "en": "In the NCALayer window, choose the signing EDS key that carries this IIN (BIN)."},
    "doc_heading": {"kk": "Құжат", "ru": "Документ", "en": "Document"},
    "pages": {"kk": "Беттер саны: {n}", "ru": "Страниц: {n}", "en": "Pages: {n}"},
    "page_alt": {"kk": "Құжаттың {n}-беті", "ru": "Страница {n} документа", "en": "Page {n} of the document"},
    "sign_heading": {"kk": "Қол қою", "ru": "Подписание", "en": "Signing"},
    "sign_button": {"kk": "Қол қою", "ru": "Подписать", "en": "Sign"},
    "noscript": {"kk": "Қол қою үшін браузерде JavaScript қосылған болуы керек.",
                 "ru": "Для подписания в браузере должен быть включен JavaScript.",
                 "en": "Signing needs JavaScript to be enabled in the browser."},
    "key_stays": {"kk": "ЭЦҚ кілтіңіз компьютеріңізден шықпайды: серверге тек қолтаңба жіберіледі.",
                  "ru": "Ваш ключ ЭЦП не покидает компьютер: на сервер отправляется только подпись.",
                  "en": "Your EDS key never leaves your computer: only the signature is sent to the server."},
    "working.connect": {"kk": "NCALayer бағдарламасына қосылуда…", "ru": "Подключение к NCALayer…",
                        "en": "Connecting to NCALayer…"},
    "working.choose": {"kk": "NCALayer терезесінде кілтті таңдап, құпиясөзді енгізіңіз.",
                       "ru": "В окне NCALayer выберите ключ и введите пароль.",
                       "en": "In the NCALayer window, choose your key and enter its password."},
    "working.send": {"kk": "Қолтаңба жіберілуде…", "ru": "Подпись отправляется…",
                     "en": "Sending the signature…"},
    "done.valid": {"kk": "Құжатқа қол қойылды, енді ол жарамды.",
                   "ru": "Документ подписан и теперь действителен.",
                   "en": "The document is signed and is now valid."},
    "done.next": {"kk": "Қолтаңбаңыз қабылданды. Құжат келесі қол қоюшының қолын күтуде.",
                  "ru": "Ваша подпись принята. Документ ожидает подписи следующего подписанта.",
                  "en": "Your signature has been accepted. The document is waiting for the next signer."},
    "done.link": {"kk": "Құжатты тексеру беті", "ru": "Страница проверки документа",
                  "en": "The document's verification page"},
    "err.no_layer": {"kk": "NCALayer бағдарламасына қосылу мүмкін болмады. NCALayer орнатылғанына және іске "
                           "қосылғанына көз жеткізіп, «Қол қою» батырмасын қайта басыңыз. NCALayer "
                           "бағдарламасын pki.gov.kz сайтынан жүктеп алуға болады.",
                     "ru": "Не удалось подключиться к NCALayer. Убедитесь, что NCALayer установлен и запущен, "
                           "и нажмите «Подписать» еще раз. NCALayer можно скачать на сайте pki.gov.kz.",
                     "en": "Could not connect to NCALayer. Make sure NCALayer is installed and running, then "
                           "press “Sign” again. NCALayer can be downloaded from pki.gov.kz."},
    "err.cancelled": {"kk": "Қол қою тоқтатылды: NCALayer терезесі жабылды. Қол қою үшін «Қол қою» "
                            "батырмасын қайта басыңыз.",
                      "ru": "Подписание отменено: окно NCALayer закрыто. Чтобы подписать документ, нажмите "
                            "«Подписать» еще раз.",
                      "en": "Signing was cancelled: the NCALayer window was closed. To sign, press “Sign” again."},
    "err.layer": {"kk": "NCALayer қате қайтарды ({detail}). Кілт пен құпиясөзді тексеріп, қайталап көріңіз.",
                  "ru": "NCALayer вернул ошибку ({detail}). Проверьте ключ и пароль и повторите попытку.",
                  "en": "NCALayer returned an error ({detail}). Check your key and password and try again."},
    "err.refused": {"kk": "Қолтаңба қабылданбады, құжат өзгерген жоқ.",
                    "ru": "Подпись не принята, документ не изменен.",
                    "en": "The signature was not accepted; the document is unchanged."},
    "refused.wrong_signer": {"kk": "Бұл кілт осы құжатқа қазір қол қоюы тиіс адамдікі емес. Жоғарыда көрсетілген "
                                   "ЖСН (БСН) жазылған кілтті таңдаңыз.",
                             "ru": "Этот ключ принадлежит не тому, кто должен подписать документ сейчас. Выберите "
                                   "ключ с ИИН (БИН), указанным выше.",
                             "en": "This key is not the one of the person who must sign now. Choose the key with "
                                   "the IIN (BIN) shown above."},
    "refused.untrusted_signer": {"kk": "Кілттің сертификаты жарамсыз: мерзімі өткен немесе сенімді куәландырушы "
                                       "орталық бермеген.",
                                 "ru": "Сертификат ключа недействителен: истек срок его действия или он выдан "
                                       "не доверенным удостоверяющим центром.",
                                 "en": "The key's certificate is not valid: it has expired or was not issued by a "
                                       "trusted certification authority."},
    "refused.key_usage": {"kk": "Бұл кілт қол қоюға арналмаған (мысалы, аутентификация кілті). Қол қоюға "
                                "арналған кілтті таңдаңыз.",
                          "ru": "Этот ключ не предназначен для подписи (например, ключ аутентификации). Выберите "
                                "ключ для подписи.",
                          "en": "This key is not meant for signing (an authentication key, for example). Choose "
                                "your signing key."},
    "refused.revoked": {"kk": "Кілттің сертификаты кері қайтарылған (мысалы, кілт жоғалған немесе қызметкер "
                              "жұмыстан босатылған). Жаңа сертификат алып, соның кілтімен қол қойыңыз.",
                        "ru": "Сертификат ключа отозван (например, ключ утерян или сотрудник уволен). Получите "
                              "новый сертификат и подпишите его ключом.",
                        "en": "The key's certificate has been revoked (a lost key or a dismissed employee, for "
                              "example). Get a new certificate and sign with its key."},
    "refused.revocation_unavailable": {
        "kk": "Сертификаттың кері қайтарылмағанын куәландырушы орталықтан қазір тексеру мүмкін болмады. "
              "Сілтеме әлі жарамды: бірнеше минуттан кейін қайталап көріңіз.",
        "ru": "Сейчас не удалось проверить в удостоверяющем центре, что сертификат не отозван. Ссылка "
              "по-прежнему действительна: повторите попытку через несколько минут.",
        "en": "The certification authority could not be asked now whether the certificate is revoked. "
              "The link still works: try again in a few minutes."},
    "err.network": {"kk": "Серверге қосылу мүмкін болмады. Байланысты тексеріп, қайталап көріңіз.",
                    "ru": "Не удалось связаться с сервером. Проверьте подключение и повторите попытку.",
                    "en": "Could not reach the server. Check your connection and try again."},
    "ticket.denied": {"kk": "Қол қою сілтемесі жарамсыз", "ru": "Ссылка для подписания недействительна",
                      "en": "The signing link is not valid"},
    "ticket.denied.note": {"kk": "Бұл сілтеме бойынша құжатқа қол қоюға болмайды. Құжатты жіберген жүйеден жаңа "
                                 "сілтеме сұратыңыз.",
                           "ru": "По этой ссылке подписать документ нельзя. Запросите новую ссылку в системе, из "
                                 "которой пришел документ.",
                           "en": "This link cannot be used to sign the document. Ask the system that sent you "
                                 "the document for a new link."},
    "ticket.gone": {"kk": "Қол қою сілтемесінің мерзімі өтті", "ru": "Срок действия ссылки для подписания истек",
                    "en": "The signing link has expired"},
    "ticket.gone.note": {"kk": "Сілтеме бір рет және шектеулі уақыт ішінде ғана жарамды. Құжатты жіберген жүйеден "
                               "жаңа сілтеме сұратыңыз.",
                         "ru": "Ссылка действует один раз и ограниченное время. Запросите новую ссылку в системе, "
                               "из которой пришел документ.",
                         "en": "A signing link works once and for a limited time. Ask the system that sent you "
                               "the document for a new link."},
    "not_found": {"kk": "Құжат табылмады", "ru": "Документ не найден", "en": "Document not found"},
    "not_found.note": {"kk": "Сілтемені тексеріңіз немесе құжатты жіберген жүйеден жаңа сілтеме сұратыңыз.",
                       "ru": "Проверьте ссылку или запросите новую в системе, из которой пришел документ.",
                       "en": "Check the link, or ask the system that sent you the document for a new one."},
    "closed": {"kk": "Құжат қол қоюды күтпейді", "ru": "Документ не ожидает подписи",
               "en": "The document is not awaiting a signature"},
    "closed.note": {"kk": "Құжатқа қажетті қолдың бәрі қойылған немесе оның күші жойылған.",
                    "ru": "Документ уже подписан всеми подписантами или аннулирован.",
                    "en": "The document has already been signed by everyone who must sign it, or it has been "
                          "annulled."},
    "unavailable": {"kk": "Құжатты көрсету мүмкін болмады", "ru": "Не удалось показать документ",
                    "en": "The document cannot be shown"},
    "unavailable.note": {"kk": "Бетті біраздан кейін жаңартыңыз.", "ru": "Обновите страницу немного позже.",
                         "en": "Reload the page in a little while."},
}


#: base.html's words that this page says its own way
_FRAME = {"site": "site", "privacy": "key_stays"}


def words(key: str, lang: str, **values: object) -> str:
    return phrase_in(WORDS, key, lang, **values)


# -- assets -----------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _asset(name: str) -> tuple[bytes, str]:
    data = resources.files("qujat.web").joinpath("static", name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


def _asset_name(name: str) -> str:
    stem, ext = name.rsplit(".", 1)
    return f"{stem}.{_asset(name)[1]}.{ext}"


_ASSETS = {"sign.js": "text/javascript; charset=utf-8", "sign.css": "text/css; charset=utf-8",
           "qujat.css": "text/css; charset=utf-8"}


# -- page images ------------------------------------------------------------------------------

class PagesBusy(RuntimeError):
    """No poppler slot came free in time (the page answers 503)."""


class _Pages:
    """Page counts and PNGs of PDFs by their SHA-256, a few kept (in the app's state). At most
    `MAX_RENDERS` poppler processes run at once (a request waits up to `RENDER_WAIT_S` for a
    slot, then `PagesBusy`), a page that is being made is made once (the other requests for it
    wait for that result), and at most `MAX_RENDER_QUEUE` more requests wait: the next one is
    `PagesBusy` at once, so that page images never hold the server's whole thread pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: collections.OrderedDict[tuple[str, int], Any] = collections.OrderedDict()
        self._making: dict[tuple[str, int], threading.Event] = {}
        self._slots = threading.BoundedSemaphore(MAX_RENDERS)
        self._waiting = 0              # requests past the cache (rendering or waiting to)

    def _cached(self, key: tuple[str, int], make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            if self._waiting >= MAX_RENDER_QUEUE + MAX_RENDERS:
                raise PagesBusy(f"{self._waiting} page requests are waiting already")
            self._waiting += 1
        try:
            return self._made(key, make)
        finally:
            with self._lock:
                self._waiting -= 1

    def _made(self, key: tuple[str, int], make):
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
                making = self._making.get(key)
                if making is None:
                    making = self._making[key] = threading.Event()
                    break
            # another request makes it: wait, then take it from the cache (or, if that failed,
            # make it ourselves)
            if not making.wait(RENDER_WAIT_S + RENDER_TIMEOUT_S):
                raise PagesBusy("the page is still being rendered")
        try:
            if not self._slots.acquire(timeout=RENDER_WAIT_S):
                raise PagesBusy(f"{MAX_RENDERS} pages are being rendered; none finished in {RENDER_WAIT_S:g} s")
            try:
                value = make()
            finally:
                self._slots.release()
            with self._lock:
                self._items[key] = value
                while len(self._items) > _CACHE_ENTRIES:
                    self._items.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._making.pop(key, None)
            making.set()

    def count(self, pdf: bytes) -> int:
        return self._cached((hashlib.sha256(pdf).hexdigest(), 0), lambda: _page_count(pdf))

    def png(self, pdf: bytes, n: int) -> bytes:
        return self._cached((hashlib.sha256(pdf).hexdigest(), n), lambda: _render_page(pdf, n))


def _poppler(args: list[str], pdf: bytes) -> bytes:
    with tempfile.TemporaryDirectory(prefix="qujat-sign-") as tmp:
        path = Path(tmp) / "document.pdf"
        path.write_bytes(pdf)
        proc = subprocess.run([*args, str(path)], capture_output=True, timeout=RENDER_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr[:300]!r}")
    return proc.stdout


def _page_count(pdf: bytes) -> int:
    out = _poppler(["pdfinfo"], pdf).decode("utf-8", "replace")
    match = re.search(r"^Pages:\s+(\d+)\s*$", out, re.M)
    if not match:
        raise RuntimeError("pdfinfo reported no page count")
    return min(int(match.group(1)), MAX_PAGES)


def _render_page(pdf: bytes, n: int) -> bytes:
    """Page ``n`` as a PNG ``PAGE_WIDTH_PX`` wide: poppler renders a PPM, Pillow writes the PNG
    with fast compression (pdftoppm's own ``-png`` spends ~0.7 s of ~1 s compressing a page)."""
    import io

    from PIL import Image

    ppm = _poppler(["pdftoppm", "-f", str(n), "-l", str(n), "-singlefile",
                    "-scale-to-x", str(PAGE_WIDTH_PX), "-scale-to-y", "-1"], pdf)
    if not ppm.startswith(b"P6"):
        raise RuntimeError("pdftoppm gave no image")
    out = io.BytesIO()
    with Image.open(io.BytesIO(ppm)) as image:
        image.save(out, "PNG", compress_level=3)
    return out.getvalue()


def _pages(request: Request) -> _Pages:
    with _STATE_LOCK:
        pages = getattr(request.app.state, "qujat_sign_pages", None)
        if pages is None:
            pages = request.app.state.qujat_sign_pages = _Pages()
        return pages


# -- access logs ------------------------------------------------------------------------------

#: A name=value pair of a query in a log line; its name is compared once decoded, as the page
#: decodes it (``%74icket=`` is a ticket too).
_QUERY_PAIR = re.compile(r"(?<=[?&;])([^=&;\s\"?]*)=[^&;\s\"]*")
#: Servers' access loggers, which write a request's path with its query string.
ACCESS_LOGGERS = ("uvicorn.access", "gunicorn.access", "hypercorn.access")


class RedactTickets(logging.Filter):
    """Writes ``ticket=<redacted>`` for a signing ticket in an access log line: the ticket opens
    the document until it is used or expires, and logs are read by more people than the
    official (a proxy in front logs on its own: configure it likewise)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "=" in a for a in record.args):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and "=" in record.msg and not record.args:
            record.msg = _redact(record.msg)
        return True


def _redact(text: str) -> str:
    """``text`` with the value of every query pair whose decoded name is ``ticket`` redacted."""
    return _QUERY_PAIR.sub(lambda m: f"{m.group(1)}=<redacted>" if unquote_plus(m.group(1)) == "ticket"
                           else m.group(0), text)


_REDACT_TICKETS = RedactTickets()


def redact_access_logs() -> None:
    """Install `RedactTickets` on the servers' access loggers (idempotent; `make_sign_router`
    calls it, so every app that serves the signing page has it)."""
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).addFilter(_REDACT_TICKETS)


# -- the router -------------------------------------------------------------------------------

def _ticket_refusal(exc: BaseException) -> int:
    """410 for a ticket that was good for this record and is spent (expired, used, or made for
    a step that is signed now); 403 for one that never opened it (unknown, another record's).
    `signflow.TicketInvalid` says which only in its message (``store.signing`` words it); a
    boolean ``gone`` on the exception, if it ever has one, is preferred."""
    gone = getattr(exc, "gone", None)
    if isinstance(gone, bool):
        return 410 if gone else 403
    reason = str(exc).lower()
    return 410 if any(w in reason for w in ("expired", "used", "another signing step")) else 403


#: The cookie that carries a signing ticket after the link's first request (its path: the record's).
TICKET_COOKIE = "qujat_sign_ticket"


def make_sign_router(*, ncalayer_url: str = DEFAULT_NCALAYER_URL) -> APIRouter:
    """The signing page's routes; ``ncalayer_url``: where the page's script finds NCALayer
    (``wss://`` or ``ws://``, a host and a port; the CSP allows exactly that)."""
    if not _URL.match(ncalayer_url):
        raise ValueError(f"ncalayer_url {ncalayer_url!r}: give ws[s]://host:port")
    redact_access_logs()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(ncalayer_url))
    headers = {
        "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                   f"connect-src 'self' {origin}; form-action 'none'; base-uri 'none'; "
                                   "frame-ancestors 'none'",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }
    router = APIRouter(tags=["signing page"])

    def page_of(request: Request):
        lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
        root = request.scope.get("root_path", "").rstrip("/")
        return lang, root

    def html(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang, root = page_of(request)
        keep = {k: v for k, v in request.query_params.items() if k != "lang"}
        body = _ENV.get_template(template).render(
            lang=lang, w=lambda key, **kw: words(key, lang, **kw),
            # the public page's frame (base.html) with this page's name and footer
            _=lambda key, **kw: words(_FRAME[key], lang) if key in _FRAME else public_text(key, lang, **kw),
            languages=[{"code": c, "name": LANGUAGE_NAMES[c], "current": c == lang,
                        "href": f"{root}{request.url.path[len(root):]}?{urlencode({**keep, 'lang': c})}"}
                       for c in LANGS],
            css_url=f"{root}/assets/sign/{_asset_name('qujat.css')}",
            sign_css_url=f"{root}/assets/sign/{_asset_name('sign.css')}",
            **context)
        return HTMLResponse(body, status_code=status, headers={**headers, "Content-Language": lang,
                                                               "Vary": "Accept-Language"})

    def message(request: Request, status: int, key: str, link: str | None = None) -> HTMLResponse:
        lang, _root = page_of(request)
        return html(request, "sign_message.html", status, heading=words(key, lang),
                    note=words(f"{key}.note", lang), link=link)

    def json_error(status: int, code: str, text: str) -> JSONResponse:
        return JSONResponse({"code": code, "message": text}, status_code=status, headers=headers)

    def record_id_of(raw: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(raw)
        except ValueError:
            return None

    def ticket_of(request: Request, ticket: str | None) -> str | None:
        """The ticket of a request: its query's, else the cookie the page set."""
        return ticket or request.cookies.get(TICKET_COOKIE)

    def cookie_path(request: Request, record_id: uuid.UUID) -> str:
        return f"{page_of(request)[1]}/sign/{record_id}"

    def opened(request: Request, raw_id: str, ticket: str | None):
        """(record id, None) when the ticket (the query's, else the cookie's) opens the record,
        else (None, (status, key))."""
        from qujat import signflow

        ticket = ticket_of(request, ticket)
        record_id = record_id_of(raw_id)
        if not ticket:
            return None, (403, "ticket.denied")
        if record_id is None:
            return None, (404, "not_found")
        try:
            signflow.check_ticket(runtime_of(request), record_id, ticket)
        except signflow.TicketInvalid as exc:
            status = _ticket_refusal(exc)
            return None, (status, "ticket.gone" if status == 410 else "ticket.denied")
        except NotFound:
            return None, (404, "not_found")
        return record_id, None

    # -- the page --------------------------------------------------------------------------

    @router.get("/sign/{record_id}", response_class=HTMLResponse, summary="The official's signing page",
                responses={403: {"description": "no ticket, or a ticket of another record"},
                           404: {"description": "no such record"},
                           409: {"description": "the record awaits no signature"},
                           410: {"description": "the ticket has expired or was used"}})
    def sign_page(request: Request, record_id: str, ticket: str | None = None):
        from qujat import signflow

        rid, refused = opened(request, record_id, ticket)
        if refused is not None:
            return message(request, *refused)
        if ticket:                     # the link's first request: the ticket moves into a cookie
            keep = urlencode({k: v for k, v in request.query_params.items() if k != "ticket"})
            path = cookie_path(request, rid)
            moved = RedirectResponse(f"{path}?{keep}" if keep else path, status_code=303, headers=headers)
            secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
            moved.set_cookie(TICKET_COOKIE, ticket, path=path, httponly=True, samesite="lax", secure=secure)
            return moved
        rt = runtime_of(request)
        record = rt.store.get(rid)
        public = f"{page_of(request)[1]}/v/{record.token}?lang={page_of(request)[0]}"
        try:
            step = signflow.next_step(rt, rid)
            pdf = signflow.pending_pdf(rt, rid)
        except Conflict:
            return message(request, 409, "closed", link=public)
        try:
            count = _pages(request).count(pdf)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            log.warning("signing page %s: the document's pages cannot be counted: %s", rid, exc)
            return message(request, 503, "unavailable")
        lang, root = page_of(request)
        tz = ZoneInfo(rt.settings.timezone)
        title = describe(record.type, record.data,
                         issued_on=record.created_at.astimezone(tz).date()).title[lang]
        expected = step.expected or {}
        config = {
            "ncalayer": ncalayer_url,
            "digest": base64.b64encode(step.digest).decode("ascii"),
            "post": f"{root}/sign/{rid}/signature",
            "locale": lang,
            "words": {k: words(k, lang) for k in WORDS if k.startswith(("working.", "done.", "err.", "refused."))},
        }
        return html(request, "sign.html", title=title, step=words("step", lang, n=step.signer_index + 1, total=step.total),
                    role=expected.get("role"), iin=mask_iin(expected["iin"]) if expected.get("iin") else None,
                    bin=expected.get("bin"),
                    pages=[{"n": n, "src": f"{root}/sign/{rid}/pages/{n}.png", "alt": words("page_alt", lang, n=n)}
                           for n in range(1, count + 1)],
                    page_count=words("pages", lang, n=count),
                    script_url=f"{root}/assets/sign/{_asset_name('sign.js')}",
                    config=config)

    @router.get("/sign/{record_id}/pages/{n}.png", summary="A page of the document being signed (PNG)",
                response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def page_image(request: Request, record_id: str, n: int, ticket: str | None = None):
        from qujat import signflow

        rid, refused = opened(request, record_id, ticket)
        if refused is not None:
            return Response(status_code=refused[0], headers=headers)
        try:
            pdf = signflow.pending_pdf(runtime_of(request), rid)
        except Conflict:
            return Response(status_code=409, headers=headers)
        pages = _pages(request)
        try:
            if not 1 <= n <= pages.count(pdf):
                return Response(status_code=404, headers=headers)
            png = pages.png(pdf, n)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            log.warning("signing page %s: page %d cannot be rendered: %s", rid, n, exc)
            return Response(status_code=503, headers={**headers, "Retry-After": "5"})
        return Response(png, media_type="image/png", headers={**headers, "Cache-Control": "private, no-store"})

    @router.post("/sign/{record_id}/signature", summary="Post the official's CMS (base64 DER)",
                 responses={400: {"description": "the body is not {\"cms\": base64}"},
                            403: {"description": "no ticket, or a ticket of another record"},
                            410: {"description": "the ticket has expired or was used"},
                            413: {"description": "the body is too large"},
                            422: {"description": "the signature was refused; nothing changed"}})
    async def post_signature(request: Request, record_id: str, ticket: str | None = None):
        from qujat import signflow

        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_CMS_BODY:
                return json_error(413, "too_large", f"the body is larger than {MAX_CMS_BODY} bytes")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):   # nested past the parser's depth
            return JSONResponse({"code": "invalid_request", "message": "the body is not JSON",
                                 "problems": [{"path": "", "message": "expected a JSON object"}]},
                                status_code=400, headers=headers)
        der, problem = None, None
        if not isinstance(data, dict):
            problem = ("", "expected a JSON object: {\"cms\": \"<base64 DER>\"}")
        elif not isinstance(data.get("cms"), str) or not data["cms"].strip():
            problem = ("cms", "required: the CMS as a base64 string")
        else:
            try:
                der = base64.b64decode(re.sub(r"\s+", "", data["cms"]), validate=True)
            except (ValueError, binascii.Error):
                problem = ("cms", "not valid base64")
        if problem is not None:
            return JSONResponse({"code": "invalid_request", "message": "the body must be {\"cms\": \"<base64>\"}",
                                 "problems": [{"path": problem[0], "message": problem[1]}]},
                                status_code=422, headers=headers)
        rid = record_id_of(record_id)
        ticket = ticket_of(request, ticket)
        if not ticket:
            return json_error(403, "ticket_invalid", "a signing ticket is required")
        if rid is None:
            return json_error(404, "not_found", "no such record")
        rt = runtime_of(request)
        try:
            record = await run_in_threadpool(signflow.submit_with_ticket, rt, rid, ticket, der)
        except signflow.TicketInvalid as exc:
            status = _ticket_refusal(exc)
            return json_error(status, "ticket_expired" if status == 410 else "ticket_invalid", str(exc))
        except signflow.SignatureRefused as exc:
            return JSONResponse({"code": exc.code, "message": exc.message,
                                 "problems": [{"path": exc.path, "message": exc.message}]},
                                status_code=exc.status, headers={**headers, **exc.headers})
        except NotFound:
            return json_error(404, "not_found", "no such record")
        root = page_of(request)[1]
        done = JSONResponse({"id": str(record.id), "status": record.status.value, "token": record.token,
                             "verification_url": f"{root}/v/{record.token}"}, headers=headers)
        done.delete_cookie(TICKET_COOKIE, path=cookie_path(request, rid), httponly=True, samesite="lax")
        return done

    @router.get("/assets/sign/{name}", include_in_schema=False)
    def asset(name: str):
        for source, media in _ASSETS.items():
            if name == _asset_name(source):
                return Response(_asset(source)[0], media_type=media, headers={
                    "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"})
        return Response(status_code=404)

    return router

"""The API tests' server: the real app (`qujat.api.create_app`) served by uvicorn on a free
loopback port, in a thread of this process, on a temporary data directory — LibreOffice (2
workers), the dev PKI's keys and the SQLite store all real. One server serves the whole session;
the tests that restart a server make their own (`serve`)."""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
import uvicorn

from qujat.api import create_app
from qujat.settings import Settings
from qujat.web import PublicOptions, RateLimits

BASE_URL = "https://qujat.test"          # QUJAT_PUBLIC_BASE_URL of the test servers: the QR's base
ALL_SCOPES = ("documents:issue", "documents:annul", "documents:read")
# every test talks from 127.0.0.1: the per-client limits of the page and /verify out of the way
UNLIMITED = PublicOptions(limits=RateLimits(page="100000/minute", download="100000/minute",
                                            compare="100000/minute"))


@dataclass
class Live:
    """A running server: its URL, its app (and so its runtime) and API keys by name."""

    url: str
    app: object
    data_dir: Path
    base_url: str                      # QUJAT_PUBLIC_BASE_URL: what the QR codes open
    keys: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def runtime(self):
        return self.app.state.runtime

    def add_key(self, name: str, *scopes: str) -> str:
        _, secret = self.runtime.store.create_api_key(name, scopes, actor="test")
        self.keys[name] = secret
        return secret

    def client(self, key: str | None = "issuer", **kw) -> httpx2.Client:
        """An HTTP client, with the API key named ``key`` as its Bearer token (None: none)."""
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        headers.update(kw.pop("headers", {}))
        return httpx2.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 120), **kw)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(data_dir: Path, *, pool_size: int = 2, public_options: PublicOptions | None = UNLIMITED,
          base_url: str | None = BASE_URL, **settings) -> Iterator[Live]:
    """Serve a new app on ``data_dir`` until the block ends (then its runtime is closed:
    LibreOffice stopped, keys and store closed). ``public_options=None``: the default rate limits;
    ``base_url=None``: the QR codes open this very server."""
    port = free_port()
    base_url = base_url or f"http://127.0.0.1:{port}"
    app = create_app(Settings(data_dir=data_dir, pool_size=pool_size, public_base_url=base_url, **settings),
                     public_options=public_options)
    # log_config=None: uvicorn's loggers propagate to the root logger, where caplog sees them
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           log_level="info", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start (see the log above)")
        time.sleep(0.05)
    try:
        yield Live(url=f"http://127.0.0.1:{port}", app=app, data_dir=data_dir, base_url=base_url)
    finally:
        server.should_exit = True
        thread.join(timeout=120)


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[Live]:
    """The session's server with four keys: issuer (issue, annul, read), reader (read),
    annuller (annul), batcher (batches:run only: no document scope). Its documents' QR codes
    open its own public page."""
    with serve(tmp_path_factory.mktemp("api") / "data", base_url=None) as server:
        server.add_key("issuer", *ALL_SCOPES)
        server.add_key("reader", "documents:read")
        server.add_key("annuller", "documents:annul")
        server.add_key("batcher", "batches:run")
        yield server


@pytest.fixture
def client(live) -> Iterator[httpx2.Client]:
    with live.client() as c:
        yield c

"""The HTTP API (FastAPI): `create_app(settings)` builds it; `qujat serve` runs it with uvicorn.

    app.py        the app factory and its lifespan (one runtime: pool, keys, store)
    documents.py  /documents: issue, read, download, versions, audit, annul
    verify.py     /verify: a stranger's PDF verified in threads of its own, with a time limit
    auth.py       Bearer API keys with scopes
    errors.py     every error as {code, message, problems: [{path, message}]}
    schemas.py    response models; openapi.py: the five request schemas with examples
"""
from qujat.api.app import create_app

__all__ = ["create_app"]

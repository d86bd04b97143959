"""/docs without the internet: Swagger UI's files served by the gateway itself.

FastAPI's own /docs page loads Swagger UI from a CDN (cdn.jsdelivr.net) and its favicon from
fastapi.tiangolo.com, so offline, or behind a strict egress policy, it is a blank page. Here the same page
loads swagger-ui-bundle.js and swagger-ui.css from the `fastapi-swagger` wheel (Swagger UI 5, MIT), mounted
under /docs/assets, and the favicon from the gateway's static files. Swagger UI's validator badge (which
asks validator.swagger.io about the schema) is switched off. ReDoc is not offered: its bundle is on a CDN too.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")


def assets_dir() -> Path:
    """Where the Swagger UI files lie (inside the installed fastapi-swagger package)."""
    return Path(str(importlib.resources.files("fastapi_swagger") / "resources"))


def install(app: FastAPI) -> None:
    """Serve /docs and its assets; the app must be created with `docs_url=None, redoc_url=None`."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},
        )

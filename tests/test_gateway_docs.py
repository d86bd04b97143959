"""/docs works offline (its Swagger UI files come from the gateway, not a CDN) and /healthz is liveness only."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from gateway.app import create_app
from gateway.settings import GatewaySettings


class Links(HTMLParser):
    """Every URL the page loads or links to (src and href attributes) and its inline scripts' text."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def client() -> httpx.AsyncClient:
    # Without the lifespan (no NATS, Redis or database): /docs, its files and /healthz need none of them.
    app = create_app(GatewaySettings())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


async def test_docs_page_loads_nothing_from_outside_and_its_files_load() -> None:
    async with client() as http:
        page = await http.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        links = Links()
        links.feed(page.text)
        assert links.urls, page.text
        # No absolute URL anywhere on the page: not in src/href, not in the inline script (no CDN, no
        # validator badge, no favicon from fastapi.tiangolo.com).
        assert not re.search(r"(?:https?:)?//[\w.-]+\.\w", page.text), page.text
        assert all(url.startswith("/") and not url.startswith("//") for url in links.urls), links.urls
        assert "'/openapi.json'" in "".join(links.scripts)
        assert '"validatorUrl": null' in "".join(links.scripts)
        kinds = {}
        for url in links.urls:
            asset = await http.get(url)
            assert asset.status_code == 200, url
            kinds[url.rsplit(".", 1)[-1]] = asset
        assert "SwaggerUIBundle" in kinds["js"].text and len(kinds["js"].content) > 500_000
        assert kinds["css"].headers["content-type"].startswith("text/css")
        # Swagger UI 5 or newer: 4.x cannot render the OpenAPI 3.1 schema that FastAPI writes.
        assert (await http.get("/openapi.json")).json()["openapi"].startswith("3.1")
        assert re.search(r'"5\.\d+\.\d+"', kinds["js"].text)
        assert (await http.get("/redoc")).status_code == 404  # ReDoc's bundle is on a CDN only: not offered


async def test_healthz_answers_without_nats_or_redis() -> None:
    async with client() as http:
        answer = await http.get("/healthz")
        assert answer.status_code == 200 and answer.json() == {"status": "alive"}

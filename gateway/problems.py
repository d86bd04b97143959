"""One error shape for the whole REST API: RFC 9457 problem details (`application/problem+json`).

Every refused request, whichever part of the stack refused it (a route, FastAPI's validation, the login
check, the throttle, an unknown path), answers `{type, title, status, detail, code}`: `detail` is a
sentence a person can read, `code` is what a program branches on, `type` names the code as a URN
(nothing to dereference). Validation errors add `errors`: one `{field, message}` per problem.
`install(app)` registers the handlers and rewrites the OpenAPI schema so every 4xx/5xx answer is
documented with this shape and media type (schemathesis checks answers against it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

# The code an error gets when whoever raised it named none (a plain HTTPException, an unknown route).
DEFAULT_CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_big",
    422: "invalid_request",
    429: "throttled",
    500: "internal",
    503: "unavailable",
}

# Titles: short, the same for every occurrence of a code (RFC 9457 section 3.1.3); `detail` says what happened.
TITLES: dict[str, str] = {
    "not_authenticated": "Not logged in",
    "invalid_credentials": "Wrong username or password",
    "invalid_username": "Username not allowed",
    "weak_password": "Password too weak",
    "username_taken": "Username taken",
    "throttled": "Too many attempts",
    "invalid_request": "Invalid request",
    "admin_only": "Admins only",
}


class FieldError(BaseModel):
    field: str = Field(description="Where in the request: `body.username`, `query.limit`, ...")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, plus a machine-readable `code`."""

    type: str = Field(description="A URN naming the code: `urn:mrrrme:problem:<code>`")
    title: str = Field(description="Short summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="A sentence for the person: what went wrong this time")
    code: str = Field(description="Stable machine-readable code, e.g. `weak_password`")
    errors: list[FieldError] | None = Field(default=None, description="Validation errors only: one per field")


class ApiProblem(StarletteHTTPException):
    """An HTTPException that carries its machine code: raise it from routes and dependencies."""

    def __init__(self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, detail, dict(headers) if headers else None)
        self.code = code


def sentence(text: str) -> str:
    """Capitalised and ending in a full stop: service messages are often lower-case fragments."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def problem(
    status: int,
    code: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[FieldError] | None = None,
) -> JSONResponse:
    title = TITLES.get(code) or _phrase(status)
    body = Problem(
        type=f"urn:mrrrme:problem:{code}",
        title=title,
        status=status,
        detail=sentence(detail) or title + ".",
        code=code,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def http_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or DEFAULT_CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
    return problem(exc.status_code, code, detail, exc.headers)


def _field(location: Sequence[Any]) -> str:
    return ".".join(str(part) for part in location) or "request"


def _message(error: Mapping[str, Any]) -> str:
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(field=_field(e.get("loc", ())), message=_message(e)) for e in exc.errors()]
    if errors:
        # Say the first problem in words, naming the field the way a person would ("password"), not "body.password".
        first = errors[0]
        name = first.field.split(".")[-1] if first.field.startswith(("body.", "query.", "path.")) else first.field
        detail = f"{name.replace('_', ' ')}: {first.message[0].lower()}{first.message[1:]}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
    else:
        detail = "the request is not valid"
    return problem(422, "invalid_request", detail, errors=errors)


async def server_problem(request: Request, exc: Exception) -> JSONResponse:
    return problem(500, "internal", "something went wrong on our side; please try again")


def _document(app: FastAPI, original: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        model = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model.pop("$defs", {}))
        components["Problem"] = model
        content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    if str(status)[:1] in ("4", "5"):
                        answer["content"] = content
        app.openapi_schema = schema
        return schema

    return openapi


def install(app: FastAPI) -> None:
    """Register the problem handlers for every error the REST API can answer, and document them."""
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(Exception, server_problem)
    app.openapi = _document(app, app.openapi)  # type: ignore[method-assign]

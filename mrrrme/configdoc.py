"""Render the one table of every environment variable from the settings classes themselves.

`make docs` writes docs/configuration.md with it, and a test fails when that file is out of date, so
the table cannot drift from the code. Services and their backends come from the registry
(`mrrrme.registry`): a new service or backend appears here without an edit.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from mrrrme import registry

PROCESS_SETTINGS = (
    ("mesh-wide", "mrrrme.settings:MeshSettings"),
    ("gateway", "gateway.settings:GatewaySettings"),
)
"""Settings of the processes that are not registered services."""
STACK_VARIABLES = (
    (
        "MRRRME_SERVICES",
        "all built services",
        "`make run`: comma-separated services to start besides the gateway",
    ),
    (
        "MRRRME_REPLICAS",
        "one each",
        "`make run`: processes per service, e.g. `asr=2,face=2` (a queue group shares the work among them)",
    ),
    ("MRRRME_NATS_PORT", "a free port", "`make run`: port of the embedded NATS when NATS_URL is not set"),
    ("MRRRME_REDIS_PORT", "a free port", "`make run`: port of the embedded Redis when REDIS_URL is not set"),
    (
        "MRRRME_<SERVICE>_METRICS_PORT",
        "a free port",
        "`make run`: /healthz, /readyz, /metrics port per service",
    ),
)


def settings_classes() -> Iterator[tuple[str, type[BaseSettings]]]:
    for scope, target in PROCESS_SETTINGS:
        module, name = target.split(":")
        yield scope, getattr(importlib.import_module(module), name)
    for manifest in registry.services().values():
        yield manifest.name, manifest.settings_class()


def _env_names(cls: type[BaseSettings]) -> Iterator[tuple[str, str, str]]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            env = "` or `".join(map(str, alias.choices))
        else:
            env = f"{prefix}{field_name}".upper()
        default = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        yield env, repr(default) if default != [] else "[]", field.description or ""


def known_variables() -> set[str]:
    """Every environment variable some settings class reads (deployment files may set only these)."""
    names: set[str] = set()
    for _, cls in settings_classes():
        for env, _, _ in _env_names(cls):
            names.update(env.split("` or `"))
    return names


def render() -> str:
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable. This table is generated from the settings classes",
        "(`make docs`); a test fails when it is out of date.",
        "",
        "| variable | scope | default | meaning |",
        "|---|---|---|---|",
    ]
    seen: set[str] = set()
    for scope, cls in settings_classes():
        for env, default, description in _env_names(cls):
            if env in seen:
                continue
            seen.add(env)
            lines.append(f"| `{env}` | {scope} | `{default}` | {description} |")
    for env, default, description in STACK_VARIABLES:
        lines.append(f"| `{env}` | make run | {default} | {description} |")
    lines += [
        "",
        "## Backends",
        "",
        "`MRRRME_<SERVICE>_BACKEND` takes one of these names; unset, the service uses its backend for",
        "`MRRRME_PROFILE`. They are registered in each service's `backends` module (docs/architecture.md).",
        "",
        "| service | backend | default in profile | uses a GPU | what it is |",
        "|---|---|---|---|---|",
    ]
    for manifest in registry.services().values():
        for spec in manifest.backends.specs() if manifest.backends else []:
            profiles = ", ".join(spec.profiles) or "-"
            lines.append(
                f"| {manifest.name} | `{spec.name}` | {profiles} | {'yes' if spec.gpu else 'no'} | {spec.description} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

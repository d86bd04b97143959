"""One registry of services and their backends.

Every service ships a manifest (`services/<name>/manifest.py`: its name, settings and service classes,
the pyproject extra its image installs, how it consumes, its backends by name) and announces it as a
Python entry point in the `mrrrme.services` group (pyproject.toml). The supervisor (`make run`), the
configuration docs, the benches and the deployment drift test all read this registry, so a new service
is one package plus one entry-point line, and a new backend is one class plus one `BackendSpec` line.

Entry points rather than a list in this package: the shared runtime must not name any service (the
services depend on it, never the other way round), and entry points are how Python packages announce
plug-ins to each other (pytest plug-ins work the same way).

Classes are named by "module:attribute" and imported only when used: a backend's module may import
torch or a model runtime, which a process that merely lists the services must not pay for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from mrrrme.backends import StartupError

if TYPE_CHECKING:
    from mrrrme.runtime.service import Service
    from mrrrme.settings import MeshSettings, ServiceSettings

ENTRY_POINT_GROUP = "mrrrme.services"
PROFILES = ("lite", "full")
"""`MRRRME_PROFILE`: lite (offline CPU, models inside packages) or full (the seed's models, a GPU)."""

B = TypeVar("B")


class ChoosesBackend(Protocol):
    """Settings that name a backend (`MRRRME_<SERVICE>_BACKEND`) within a profile (`MRRRME_PROFILE`)."""

    @property
    def backend(self) -> str | None: ...

    @property
    def profile(self) -> str: ...


def load_object(target: str) -> Any:
    """Import `module:attribute`."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class BackendSpec:
    """One way a service can compute its answer, chosen by `MRRRME_<SERVICE>_BACKEND=<name>`."""

    name: str
    target: str
    """`module:Class`; the class is built with the service's settings: `Class(settings)`."""
    description: str
    profiles: tuple[str, ...] = ()
    """The profiles (`MRRRME_PROFILE`) for which this backend is the default."""
    gpu: bool = False
    """Runs on CUDA when one is there (the GPU overlay gives its pods a GPU)."""
    fetch: str = ""
    """`module:function(settings, cache_dir, interactive) -> where`: fills the model cache with the weights
    the settings name (`make models`, on a machine that reaches the hub); empty when nothing to fetch."""


class Backends(Generic[B]):
    """A service's backends by name; `B` is the interface (a Protocol) they all implement."""

    def __init__(self, service: str, *specs: BackendSpec) -> None:
        self.service = service
        self._specs: dict[str, BackendSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: BackendSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"{self.service}: a backend named {spec.name!r} is registered already")
        self._specs[spec.name] = spec

    def remove(self, name: str) -> None:
        del self._specs[name]

    def names(self) -> list[str]:
        return list(self._specs)

    def specs(self) -> list[BackendSpec]:
        return list(self._specs.values())

    def spec(self, name: str) -> BackendSpec:
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(self._specs)
            raise StartupError(
                f"{self.service}: no backend named {name!r}; set MRRRME_{self.service.upper()}_BACKEND to one of: "
                f"{known}"
            ) from None

    def default_for(self, profile: str) -> str:
        for spec in self._specs.values():
            if profile in spec.profiles:
                return spec.name
        raise StartupError(f"{self.service}: no backend is the default of the {profile!r} profile")

    def chosen(self, settings: ChoosesBackend) -> BackendSpec:
        """The backend the settings name, or the profile's default; a profile's name (`lite`, `full`)
        names that profile's default, so `MRRRME_<SERVICE>_BACKEND=lite` works for every service."""
        name = settings.backend or settings.profile
        if name not in self._specs and name in PROFILES:
            name = self.default_for(name)
        return self.spec(name)

    def create(self, settings: ChoosesBackend) -> B:
        """Build the chosen backend (loads its model: call it on the service's model thread)."""
        backend: B = load_object(self.chosen(settings).target)(settings)
        return backend


@dataclass(frozen=True)
class ServiceManifest:
    """What the rest of the project needs to know about one service, without importing it."""

    name: str
    summary: str
    order: int
    """Its place in a turn's flow, for listings (docs, `make run`'s start order)."""
    service: str = ""
    """`module:Class` of its `Service` subclass, built as `Class(settings)`; by convention
    `services.<name>.service:<Name>Service`."""
    settings: str = ""
    """`module:Class` of its settings (`MRRRME_<NAME>_*`); by convention `services.<name>.settings:<Name>Settings`."""
    extra: str = ""
    """The pyproject extra that holds its dependencies (its image installs `.[<extra>]`); by convention its name."""
    queue: str | None = None
    """The core NATS queue group its replicas share, when it has one."""
    durables: tuple[tuple[str, str], ...] = ()
    """The JetStream (stream, durable consumer) pairs it takes durable work from."""
    backends: Backends[Any] | None = None
    """Model services: their backends by name. Others compute in code (fusion rules, the database)."""

    def __post_init__(self) -> None:
        # One place for the convention every service follows; a service that differs names its own.
        title = self.name.capitalize()
        conventional = {
            "service": f"services.{self.name}.service:{title}Service",
            "settings": f"services.{self.name}.settings:{title}Settings",
            "extra": self.name,
        }
        for field_name, value in conventional.items():
            if not getattr(self, field_name):
                object.__setattr__(self, field_name, value)

    @property
    def module(self) -> str:
        """The package run as `python -m <module>`."""
        return self.service.partition(":")[0].rsplit(".", 1)[0]

    @property
    def gpu(self) -> bool:
        return self.backends is not None and any(spec.gpu for spec in self.backends.specs())

    def settings_class(self) -> type[ServiceSettings]:
        cls: type[ServiceSettings] = load_object(self.settings)
        return cls

    def service_class(self) -> type[Service[Any]]:
        cls: type[Service[Any]] = load_object(self.service)
        return cls

    def build(self, settings: MeshSettings | None = None) -> Service[Any]:
        return self.service_class()(settings if settings is not None else self.settings_class()())


@cache
def services() -> dict[str, ServiceManifest]:
    """Every installed service's manifest, in the order of a turn's flow."""
    found: list[ServiceManifest] = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        manifest = point.load()
        if not isinstance(manifest, ServiceManifest):
            raise TypeError(f"entry point {point.name} = {point.value} is not a ServiceManifest")
        if manifest.name != point.name:
            raise ValueError(f"entry point {point.name} names a manifest called {manifest.name!r}")
        found.append(manifest)
    return {m.name: m for m in sorted(found, key=lambda m: (m.order, m.name))}


def service(name: str) -> ServiceManifest:
    try:
        return services()[name]
    except KeyError:
        raise StartupError(f"no service named {name!r}; known: {', '.join(services())}") from None


def names() -> list[str]:
    return list(services())

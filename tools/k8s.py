"""Render the Kubernetes manifests: `python -m tools.k8s > deploy/k8s/mesh.yaml` (a test fails when stale).

One Deployment per process so that each scales on its own; NATS (JetStream), Redis and PostgreSQL are
expected as managed services, named in the `mrrrme-mesh` ConfigMap and the `mrrrme-secrets` Secret
(which holds DATABASE_URL and GROQ_API_KEY and is created by the operator, never committed). Migrations
run once as a Job; the gateway and memory do not migrate at start. Generated from one table so that the
eight services cannot drift apart.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import yaml

NAMESPACE = "mrrrme"
IMAGE = "mrrrme:latest"
METRICS_PORT = 9000
CPU_TARGET = {"type": "Utilization", "averageUtilization": 70}


@dataclass(frozen=True)
class Process:
    name: str
    module: str
    replicas: int
    cpu: str
    memory: str
    gpu: bool = False
    autoscale_to: int = 0
    """Upper bound of a CPU-based HorizontalPodAutoscaler; 0: none."""


SERVICES = (
    Process("face", "services.face", 2, "1", "2Gi", gpu=True),
    Process("voice", "services.voice", 1, "1", "4Gi", gpu=True),
    Process("asr", "services.asr", 1, "1", "4Gi", gpu=True),
    Process("text", "services.text", 1, "1", "2Gi", gpu=True),
    Process("fusion", "services.fusion", 2, "250m", "256Mi", autoscale_to=6),
    Process("dialogue", "services.dialogue", 2, "250m", "256Mi", autoscale_to=6),
    Process("tts", "services.tts", 1, "1", "4Gi", gpu=True),
    Process("memory", "services.memory", 2, "250m", "256Mi", autoscale_to=4),
)


def _labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "mrrrme"}


def _env(extra: dict[str, str]) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "mrrrme-secrets", "key": "DATABASE_URL"}}},
    ]
    env += [{"name": key, "value": value} for key, value in extra.items()]
    return env


def _container(name: str, module: str, extra_env: dict[str, str], cpu: str, memory: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "command": ["python", "-m", module],
        "envFrom": [{"configMapRef": {"name": "mrrrme-mesh"}}],
        "env": _env(extra_env),
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _deployment(name: str, replicas: int, container: dict[str, Any], gpu: bool) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "containers": [container],
        # Longer than the runtime's drain timeout (20 s): SIGTERM finishes in-flight work first.
        "terminationGracePeriodSeconds": 30,
        "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory"}}],
    }
    container["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    if gpu:
        container["resources"]["limits"]["nvidia.com/gpu"] = 1
        container["volumeMounts"].append({"name": "models", "mountPath": "/models", "readOnly": True})
        pod["volumes"].append({"name": "models", "persistentVolumeClaim": {"claimName": "mrrrme-models"}})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": _labels(name)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": _labels(name)}, "spec": pod},
        },
    }


def _probe(path: str, port: int, period: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "failureThreshold": 3}


def service_deployment(process: Process) -> dict[str, Any]:
    prefix = f"MRRRME_{process.name.upper()}_"
    extra = {prefix + "METRICS_HOST": "0.0.0.0", prefix + "METRICS_PORT": str(METRICS_PORT)}
    if process.name == "memory":
        extra[prefix + "MIGRATE_ON_START"] = "false"
    container = _container(process.name, process.module, extra, process.cpu, process.memory)
    if process.name == "dialogue":
        container["env"].append(
            {
                "name": "GROQ_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": "mrrrme-secrets", "key": "GROQ_API_KEY", "optional": True}},
            }
        )
    container["ports"] = [{"name": "metrics", "containerPort": METRICS_PORT}]
    # Ready only after the model is loaded and warmed up; alive while the process answers at all.
    container["readinessProbe"] = _probe("/readyz", METRICS_PORT, 5)
    container["livenessProbe"] = _probe("/healthz", METRICS_PORT, 10)
    container["startupProbe"] = {**_probe("/healthz", METRICS_PORT, 5), "failureThreshold": 60}
    return _deployment(process.name, process.replicas, container, process.gpu)


def gateway() -> list[dict[str, Any]]:
    extra = {
        "MRRRME_GATEWAY_HOST": "0.0.0.0",
        "MRRRME_GATEWAY_MIGRATE_ON_START": "false",
        "MRRRME_GATEWAY_COOKIE_SECURE": "true",
    }
    container = _container("gateway", "gateway", extra, "500m", "512Mi")
    container["ports"] = [{"name": "http", "containerPort": 7860}]
    container["readinessProbe"] = _probe("/health", 7860, 5)
    container["livenessProbe"] = _probe("/openapi.json", 7860, 10)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "gateway", "namespace": NAMESPACE, "labels": _labels("gateway")},
        "spec": {
            "selector": {"app.kubernetes.io/name": "gateway"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }
    return [_deployment("gateway", 2, container, gpu=False), service, _autoscaler("gateway", 2, 6)]


def _autoscaler(name: str, low: int, high: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": _labels(name)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": _labels("mrrrme")}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "mrrrme-mesh", "namespace": NAMESPACE, "labels": _labels("mrrrme")},
            "data": {
                "NATS_URL": "nats://nats.nats.svc:4222",
                "REDIS_URL": "redis://redis.redis.svc:6379/0",
                "MRRRME_PROFILE": "full",
                "MRRRME_LOG_LEVEL": "INFO",
                "HF_HUB_OFFLINE": "1",
                "HF_HOME": "/models",
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate", "namespace": NAMESPACE, "labels": _labels("migrate")},
            "spec": {
                "backoffLimit": 4,
                "template": {
                    "metadata": {"labels": _labels("migrate")},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "containers": [_container("migrate", "mrrrme.store", {}, "100m", "256Mi")],
                    },
                },
            },
        },
    ]
    docs[2]["spec"]["template"]["spec"]["containers"][0]["args"] = ["migrate"]
    docs += gateway()
    for process in SERVICES:
        docs.append(service_deployment(process))
        if process.autoscale_to:
            docs.append(_autoscaler(process.name, process.replicas, process.autoscale_to))
    return docs


def render() -> str:
    header = "# Generated by `python -m tools.k8s` from tools/k8s.py: edit that, not this file.\n"
    return header + yaml.safe_dump_all(documents(), sort_keys=False, width=120)


if __name__ == "__main__":
    sys.stdout.write(render())

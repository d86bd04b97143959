"""Observability: one turn is one trace of OpenTelemetry spans across the mesh, log lines carry its trace id
(text or JSON), the metrics are named the Prometheus way, and the Grafana dashboard reads what the code exports."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.metrics import MetricWrapperBase

from gateway.client import GatewayClient
from gateway.metrics import GatewayMetrics
from gateway.server import server_config
from mrrrme import logs
from mrrrme.runtime import Service, tracing
from mrrrme.runtime.metrics import ServiceMetrics
from mrrrme.settings import MeshSettings
from mrrrme.stack.infra import NatsServer, RedisServer
from mrrrme.stack.supervisor import SERVICE_NAMES
from services.dialogue.service import DialogueService
from services.dialogue.settings import DialogueSettings
from services.fusion.service import FusionService
from services.fusion.settings import FusionSettings
from services.text.service import TextService
from services.text.settings import TextSettings
from services.tts.service import TtsService
from services.tts.settings import TtsSettings
from tests.accounts import new_user
from tests.conftest import gateway_settings
from tests.mesh import started

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "mrrrme.json"


@pytest.fixture()
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test, every span kept in memory (synchronously: none is still in a batch at the end)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.install(None)
        provider.shutdown()


def service_of(span: ReadableSpan) -> str:
    """The service that recorded a span: its tracer's scope (`mrrrme.<service>`), since the services of this
    test share one process (in production the resource's service.name says it)."""
    assert span.instrumentation_scope is not None
    return span.instrumentation_scope.name.removeprefix("mrrrme.")


def hex_id(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


# --- traces -----------------------------------------------------------------------------------------


async def typed_turn(gateway: str, mesh: list[Service[Any]]) -> str:
    """One typed turn through the gateway and `mesh`, until the reply's last sentence is spoken; its session."""
    async with started(*mesh):
        token = await new_user(gateway, "tracer")
        async with GatewayClient.connect(gateway, token) as client:
            await client.send_json({"type": "speech_end", "text": "I had a lovely day at the beach with my sister"})
            replies: list[dict[str, Any]] = []
            async with asyncio.timeout(90):
                async for _, event in client.events():
                    if event["type"] == "llm_response":
                        replies.append(event)
                        if event["final"]:
                            break
    assert replies and all(reply["audio"] for reply in replies)
    return client.session_id


def connected_trace(finished: tuple[ReadableSpan, ...], session: str) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The typed turn's root span and every span of its trace, checked to be one tree."""
    (root,) = [s for s in finished if s.name == "receive speech_end"]
    assert service_of(root) == "gateway" and root.kind is SpanKind.SERVER and root.parent is None
    turn = [s for s in finished if s.context.trace_id == root.context.trace_id]
    # One tree: every span's parent is a span of the same trace, the gateway's receive is its only root.
    ids = {s.context.span_id for s in turn}
    assert len(ids) == len(turn), "each stage has a span id of its own"
    orphans = [s.name for s in turn if s is not root and (s.parent is None or s.parent.span_id not in ids)]
    assert not orphans, f"spans whose parent is not in the trace: {orphans}"
    # Each handler's span continues the span of the publish that sent its unit.
    by_id = {s.context.span_id: s for s in turn}
    for span in turn:
        if span.kind is SpanKind.CONSUMER:
            assert span.parent is not None
            assert by_id[span.parent.span_id].kind is SpanKind.PRODUCER, span.name
    # Nothing of this turn went into another trace: every dialogue and tts span of the test is in this one
    # (but the control messages the socket sent, preferences and the session's end: units of their own).
    elsewhere = [
        s.name
        for s in finished
        if service_of(s) in {"dialogue", "tts"}
        and (s.attributes or {}).get("mrrrme.session") == session  # not other tests' leftovers in the streams
        and s.context.trace_id != root.context.trace_id
        and not s.name.endswith("control")
    ]
    assert not elsewhere, f"spans of the turn in another trace: {elsewhere}"
    return root, turn


def common_settings(nats_server: NatsServer, redis_server: RedisServer) -> dict[str, Any]:
    return {"nats_url": nats_server.url, "redis_url": redis_server.url}


async def test_one_typed_turn_is_one_trace_from_the_gateway_through_fusion_dialogue_and_tts(
    spans: InMemorySpanExporter, gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    common = common_settings(nats_server, redis_server)
    session = await typed_turn(
        gateway,
        [
            TextService(TextSettings(**common, backend="lite")),
            FusionService(FusionSettings(**common)),
            DialogueService(DialogueSettings(**common, backend="lite")),
            TtsService(TtsSettings(**common, backend="lite")),
        ],
    )
    _, turn = connected_trace(spans.get_finished_spans(), session)
    stages = {(service_of(s), s.name) for s in turn}

    # Every stage of the turn, in order of the trip, is a span of this one trace.
    for stage in [
        ("gateway", "receive speech_end"),
        ("gateway", "publish transcript"),
        ("text", "process transcript"),
        ("text", "publish emotion.text"),
        ("fusion", "process transcript"),
        ("fusion", "process emotion.text"),
        ("fusion", "publish turn"),
        ("dialogue", "process turn"),
        ("dialogue", "publish reply.text"),
        ("tts", "process reply.text"),
        ("tts", "publish reply.audio"),
        ("gateway", "process reply.audio"),
    ]:
        assert stage in stages, f"{stage} is not in the turn's trace: {sorted(stages)}"

    # The services' handler spans say how the unit ended.
    handled = [s for s in turn if s.kind is SpanKind.CONSUMER and service_of(s) != "gateway"]
    assert handled and all(s.attributes and s.attributes.get("mrrrme.outcome") == "ok" for s in handled)


async def test_a_turn_fused_by_the_deadline_sweep_stays_in_its_utterances_trace(
    spans: InMemorySpanExporter, gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    """No text service: the text emotion never comes, fusion's sweep fuses the turn with no unit in hand, and
    the turn continues the trace the transcript brought (stored with the join in Redis), not a new one."""
    common = common_settings(nats_server, redis_server)
    session = await typed_turn(
        gateway,
        [
            FusionService(FusionSettings(**common, deadline_s=0.3)),
            DialogueService(DialogueSettings(**common, backend="lite")),
            TtsService(TtsSettings(**common, backend="lite")),
        ],
    )
    _, turn = connected_trace(spans.get_finished_spans(), session)
    stages = {(service_of(s), s.name) for s in turn}
    for stage in [
        ("fusion", "process transcript"),
        ("fusion", "fuse overdue"),
        ("fusion", "publish turn"),
        ("dialogue", "process turn"),
        ("tts", "process reply.text"),
        ("gateway", "process reply.audio"),
    ]:
        assert stage in stages, f"{stage} is not in the turn's trace: {sorted(stages)}"


async def test_with_tracing_off_no_sdk_is_needed_and_the_ids_still_travel() -> None:
    """Off (no endpoint): `span` derives ids only, a child keeps the trace id and the sampled flag."""
    assert not tracing.configure_tracing("echo", "")
    assert not tracing.tracing_enabled()
    parent = tracing.TraceContext.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
    assert parent is not None and not parent.sampled
    with tracing.span("echo", "process utterance", parent, "consumer") as stage:
        assert stage.trace.trace_id == parent.trace_id and stage.trace.span_id != parent.span_id
        assert stage.trace.header().endswith("-00"), "an unsampled trace stays unsampled downstream"
        assert logs.TRACE_ID.get() == parent.trace_id
        stage.outcome("error")  # no span to mark: nothing happens
    assert logs.TRACE_ID.get() == "-"


def test_an_endpoint_turns_tracing_on_with_the_otlp_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.invalid:4318")
    assert MeshSettings().otlp_endpoint == "http://collector.invalid:4318"  # the standard variable is read
    monkeypatch.setenv("MRRRME_OTLP_ENDPOINT", "http://other.invalid:4318")
    assert MeshSettings().otlp_endpoint == "http://other.invalid:4318"  # ours first
    try:
        assert tracing.configure_tracing("face", "http://collector.invalid:4318/", "host-1")
        provider = tracing._provider
        assert provider is not None
        assert provider.resource.attributes["service.name"] == "face"
        assert provider.resource.attributes["service.instance.id"] == "host-1"
        processor = provider._active_span_processor._span_processors[0]
        exporter = processor._batch_processor._exporter  # type: ignore[attr-defined]
        assert type(exporter).__name__ == "OTLPSpanExporter"
        assert exporter._endpoint == "http://collector.invalid:4318/v1/traces"
    finally:
        provider = tracing._provider
        tracing.install(None)
        if provider is not None:
            # Nothing was recorded, so nothing is sent to the unreachable collector.
            provider.shutdown()


def test_spans_reach_an_otlp_collector_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real exporter against a stand-in collector: the spans arrive at /v1/traces as OTLP protobuf."""
    import http.server
    import threading

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[tuple[str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    try:
        assert tracing.configure_tracing("dialogue", f"http://127.0.0.1:{server.server_port}", "host-2")
        with tracing.span("dialogue", "process turn", None, "consumer") as stage:
            stage.outcome("ok")
        tracing.shutdown_tracing()  # flushes the batch
    finally:
        tracing.install(None)
        server.shutdown()
    assert not tracing.tracing_enabled()
    ((path, body),) = received
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "dialogue" and resource["service.namespace"] == "mrrrme"
    (scope_spans,) = resource_spans.scope_spans
    (exported,) = scope_spans.spans
    assert exported.name == "process turn" and exported.trace_id.hex() == stage.trace.trace_id


# --- logs -------------------------------------------------------------------------------------------


@pytest.fixture()
def restore_logging() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers (pytest's own): put them back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    uvicorn_loggers = {name: logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")}
    saved = {name: (lg.handlers[:], lg.propagate, lg.level) for name, lg in uvicorn_loggers.items()}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, (hs, propagate, lvl) in saved.items():
            uvicorn_loggers[name].handlers[:] = hs
            uvicorn_loggers[name].propagate = propagate
            uvicorn_loggers[name].setLevel(lvl)


def test_json_logs_carry_the_trace_and_span_id_on_every_line(
    restore_logging: None, capfd: pytest.CaptureFixture[str], spans: InMemorySpanExporter
) -> None:
    logs.configure_logging("INFO", "json", service="fusion")
    log = logging.getLogger("services.test")
    with tracing.span("fusion", "process transcript", None, "consumer") as stage:
        log.info("inside a unit")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.info("outside")
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == ["inside a unit", "failed", "outside"]
    inside, failed, outside = lines
    assert inside["trace_id"] == stage.trace.trace_id and inside["span_id"] == stage.trace.span_id
    assert inside["level"] == "INFO" and inside["logger"] == "services.test" and inside["service"] == "fusion"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", inside["time"])
    assert failed["trace_id"] == stage.trace.trace_id and "ValueError: boom" in failed["exception"]
    assert outside["trace_id"] == "-" and outside["span_id"] == "-"
    # The log's trace id is the exported span's: the line leads to the trace and back.
    (exported,) = spans.get_finished_spans()
    assert hex_id(exported.context.trace_id, 32) == inside["trace_id"]
    assert hex_id(exported.context.span_id, 16) == inside["span_id"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_uvicorn_lines_go_through_our_format_too(
    restore_logging: None, capfd: pytest.CaptureFixture[str], nats_server: NatsServer, redis_server: RedisServer,
    log_format: logs.LogFormat,
) -> None:  # fmt: skip
    """uvicorn's default logging config gives its loggers handlers of their own: their lines would have no
    trace id field and would not be JSON. The gateway's config leaves them to ours."""
    logs.configure_logging("INFO", log_format, service="gateway")
    config = server_config(gateway_settings(nats_server, redis_server))
    config.configure_logging()  # what uvicorn.Server does at start
    logging.getLogger("uvicorn.error").warning("Started server process")
    (line,) = capfd.readouterr().err.splitlines()
    if log_format == "json":
        entry = json.loads(line)
        assert entry["logger"] == "uvicorn.error" and entry["trace_id"] == "-"
    else:
        assert line.endswith("WARNING uvicorn.error [-]: Started server process")


# --- metrics ----------------------------------------------------------------------------------------


def test_every_service_exports_one_family_per_measurement_with_a_service_label() -> None:
    families: dict[str, set[str]] = {}
    for name in SERVICE_NAMES:
        registry = ServiceMetrics(name).registry
        for family in registry.collect():
            if family.name.startswith("mrrrme_"):
                assert name not in family.name.removeprefix("mrrrme_").split("_"), family.name
                families.setdefault(family.name, set()).add(name)
        collectors = registry._names_to_collectors
        for metric in ("mrrrme_messages_total", "mrrrme_handler_seconds", "mrrrme_queued", "mrrrme_ready"):
            collector = collectors[metric]
            assert isinstance(collector, MetricWrapperBase) and "service" in collector._labelnames, metric
        samples = {sample.name for family in registry.collect() for sample in family.samples}
        assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= samples
    # The same names for every service: one query compares them all.
    assert all(owners == set(SERVICE_NAMES) for owners in families.values()), families


async def test_the_gateway_counts_http_requests_by_route_status_and_latency(gateway: str) -> None:
    from tests.conftest import APPS

    async with httpx.AsyncClient(base_url=gateway) as http:
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/no/such/path/abc123")).status_code == 404
        history = (await http.get("/api/history")).status_code  # no login: refused, still counted
        text = (await http.get("/metrics")).text
    metrics: GatewayMetrics = APPS[gateway].state.gateway.metrics
    sample = metrics.registry.get_sample_value
    assert (sample("mrrrme_http_requests_total", {"method": "GET", "route": "/metrics", "status": "200"}) or 0) >= 1
    assert sample("mrrrme_http_requests_total", {"method": "GET", "route": "unmatched", "status": "404"}) == 1
    assert sample("mrrrme_http_requests_total", {"method": "GET", "route": "/api/history", "status": str(history)}) == 1
    assert (sample("mrrrme_http_request_duration_seconds_count", {"method": "GET", "route": "/metrics"}) or 0) >= 1
    assert "abc123" not in text, "a path no route took never becomes a label value"
    assert "process_cpu_seconds_total" in text and "mrrrme_gateway_connections" in text


def test_http_metrics_label_a_request_by_its_route_template_never_its_path() -> None:
    """Ids in paths would make a series per id: the label is the template the router matched."""
    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient

    from gateway.metrics import HttpMetrics

    router = APIRouter(prefix="/api")

    @router.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    app = FastAPI()
    app.include_router(router)
    metrics = GatewayMetrics()
    app.add_middleware(HttpMetrics, metrics=metrics)
    client = TestClient(app)
    assert client.get("/api/items/a1").status_code == client.get("/api/items/b2").status_code == 200
    assert client.post("/api/items/a1").status_code == 405
    assert client.request("BREW", "/api/items/a1").status_code == 405
    route = "/api/items/{item_id}"

    def count(method: str, status: str) -> float | None:
        labels = {"method": method, "route": route, "status": status}
        return metrics.registry.get_sample_value("mrrrme_http_requests_total", labels)

    assert count("GET", "200") == 2 and count("POST", "405") == 1
    assert count("other", "405") == 1, "a method nobody uses is not a series of its own"
    durations = metrics.registry.get_sample_value(
        "mrrrme_http_request_duration_seconds_count", {"method": "GET", "route": route}
    )
    assert durations == 2


# --- the dashboard ----------------------------------------------------------------------------------


def exported() -> dict[str, set[str]]:
    """Every series name the code can export (histograms' _bucket/_sum/_count included) -> its label names."""
    registries = [GatewayMetrics().registry, ServiceMetrics("face").registry]
    names: dict[str, set[str]] = {}
    for registry in registries:
        for series, collector in registry._names_to_collectors.items():
            labels = set(getattr(collector, "_labelnames", ()))
            names[series] = names.get(series, set()) | labels | ({"le"} if series.endswith("_bucket") else set())
        # The process collectors describe themselves only by collecting.
        for family in registry.collect():
            for sample in family.samples:
                names[sample.name] = names.get(sample.name, set()) | set(sample.labels)
    return names


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel.get("targets", [])]


def test_the_dashboard_is_a_grafana_dashboard_whose_panels_do_not_overlap() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids are unique"
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {(grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"]), panel["title"]


def test_the_dashboard_reads_metrics_and_labels_the_code_exports() -> None:
    """A renamed metric or label would leave a panel empty: every series a query names exists, with the labels
    it selects and groups by."""
    names = exported()
    for title, expr in dashboard_queries():
        series = re.findall(r"\b((?:mrrrme|process|python)_[a-z_]+)\b", expr)
        assert series, title
        for metric in series:
            assert metric in names, f"{title}: {metric} is not exported"
        for metric, matchers in re.findall(r"\b((?:mrrrme|process)_[a-z_]+)\{([^}]*)\}", expr):
            for matcher in matchers.split(","):
                label = re.split(r"[=!~]", matcher, maxsplit=1)[0]
                assert label == "namespace" or label in names[metric], f"{title}: {metric} has no label {label}"
        for grouping in re.findall(r"by \(([^)]*)\)", expr):
            for label in (g.strip() for g in grouping.split(",")):
                # pod: Prometheus's target label; the rest must be a label of some series the query reads.
                assert label == "pod" or any(label in names[m] for m in series), f"{title}: no series has {label}"


def test_the_dashboard_shows_stage_latencies_batch_sizes_drops_errors_and_sessions() -> None:
    queries = "\n".join(expr for _, expr in dashboard_queries())
    assert "mrrrme_handler_seconds_bucket" in queries  # stage latencies
    assert "mrrrme_batch_size_sum" in queries and "mrrrme_batch_size_count" in queries  # batch sizes
    assert 'outcome=~"dropped|stale"' in queries and "mrrrme_gateway_dropped_total" in queries  # drops
    assert re.search(r'outcome=~"[^"]*error', queries) and "mrrrme_dead_letters_total" in queries  # errors
    assert "mrrrme_gateway_connections" in queries  # sessions
    assert "mrrrme_http_requests_total" in queries and "process_cpu_seconds_total" in queries


def test_no_file_reads_a_metric_by_its_old_per_service_name() -> None:
    """`mrrrme_<service>_...` was the old naming: a query, doc or script still using it reads nothing."""
    old = re.compile(rf"\bmrrrme_(?:{'|'.join(SERVICE_NAMES)})_[a-z_]+")
    places = [ROOT / "deploy", ROOT / "docs", ROOT / "bench", ROOT / "tests", ROOT / "mrrrme", ROOT / "services"]
    found = []
    for place in places:
        for path in place.rglob("*"):
            if path.suffix in {".py", ".md", ".yaml", ".yml", ".json"} and path.is_file() and path != Path(__file__):
                found += [f"{path.relative_to(ROOT)}: {m}" for m in old.findall(path.read_text(errors="replace"))]
    assert not found, found

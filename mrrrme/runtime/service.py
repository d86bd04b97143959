"""The one service runtime every worker uses.

A service declares consumers (a subject, its queue group, the schema, a handler) and start-up hooks
(load the model, warm it up). The runtime connects to NATS with unlimited reconnects, serves
/healthz, /readyz and /metrics, answers health pings, decodes and validates each unit, calls the
handler (singly or in micro-batches), publishes results with trace/session/message-id headers, turns
any bad unit into an `ErrorEvent` for the session that sent it, and on SIGTERM drains: it stops taking
units, finishes and acknowledges what it took, flushes what it published, then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, ParamSpec, Self, TypeVar

import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from mrrrme import subjects
from mrrrme.backends import StartupError
from mrrrme.contracts import ContractError, ErrorEvent, HealthReport, decode, encode, new_id, now
from mrrrme.runtime.batching import BatchPolicy, MicroBatcher
from mrrrme.runtime.health import HealthServer
from mrrrme.runtime.metrics import ServiceMetrics
from mrrrme.runtime.roundtrip import sync_with_server
from mrrrme.runtime.tracing import MSG_ID, SESSION, TRACEPARENT, Stage, TraceContext, make_headers, span
from mrrrme.settings import MeshSettings, ServiceSettings
from mrrrme.streams import ensure_streams
from mrrrme.subjects import kind as subject_kind

log = logging.getLogger("mrrrme.runtime")

T = TypeVar("T", bound=msgspec.Struct)
P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=ServiceSettings)
Reply = TypeVar("Reply", bound=msgspec.Struct)


class BadInput(Exception):
    """A unit the handler cannot use (corrupt JPEG, NaN audio...): the sender gets `code` and `message`.

    `message` is shown to the user: say what is wrong and never echo the payload.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RetryLater(Exception):
    """A durable unit that cannot be finished now because something it needs is away (a service
    restarting): it is redelivered with backoff, logged as one line rather than a crash."""


def is_outage(exc: BaseException) -> bool:
    """A dependency that is away (connection refused or lost, timed out), not a bug in the handler."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    module = type(exc).__module__
    # redis-py's and the database drivers' connection errors do not derive from the built-in ones.
    return module.startswith(("redis", "asyncpg", "sqlalchemy")) and any(
        word in type(exc).__name__ for word in ("Connection", "Timeout", "Interface", "OperationalError")
    )


class Outage:
    """Says once that a dependency went away and once that it is back, in between nothing."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.since: float | None = None

    def started(self, exc: BaseException) -> bool:
        """True (and logged, the first time) when `exc` is an outage."""
        if not is_outage(exc):
            return False
        if self.since is None:
            self.since = time.monotonic()
            log.warning("%s: a dependency is unreachable (%s: %s); retrying until it is back", self.service,
                        type(exc).__name__, exc)  # fmt: skip
        return True

    def ended(self) -> None:
        if self.since is not None:
            log.warning("%s: the dependency is back after %.1f s", self.service, time.monotonic() - self.since)
            self.since = None


@dataclass
class Context:
    """Where a unit came from, and how to answer on its behalf (keeps its session and trace)."""

    service: Service[Any]
    subject: str
    session_id: str
    msg_id: str
    trace: TraceContext
    received_at: float = field(default_factory=time.monotonic)
    deliveries: int = 1
    """How often a durable unit has been delivered (1 for core NATS)."""
    failed: bool = False
    skipped: str = ""
    """An outcome label (e.g. `stale`) for a unit the handler deliberately did not process."""
    reply_to: str = ""
    """Set when the unit came as a request: `respond` answers it."""
    remote: bool = True
    """The unit came with a `traceparent`: its handler's span continues the sender's trace (else a new one)."""
    stage: Stage | None = None
    """The handler's span while it runs: `trace` above is then that span's context."""

    async def publish(self, subject: str, message: msgspec.Struct) -> None:
        await self.service.publish(subject, message, parent=self)

    async def publish_durable(self, subject: str, message: msgspec.Struct, msg_id: str | None = None) -> None:
        await self.service.publish_durable(subject, message, parent=self, msg_id=msg_id)

    async def respond(self, message: msgspec.Struct) -> None:
        """Answer a request (request-reply, e.g. dialogue's summaries)."""
        if not self.reply_to:
            raise RuntimeError(f"{self.subject}: not a request, nothing to respond to")
        await self.service.publish(self.reply_to, message, parent=self)

    async def request(self, subject: str, message: msgspec.Struct, schema: type[Reply], timeout: float) -> Reply:
        """Ask another service (request-reply) on this unit's behalf, keeping its session and trace."""
        return await self.service.request(subject, message, schema, timeout, parent=self)

    def skip(self, outcome: str) -> None:
        """Count this unit under `outcome` instead of ok: it was set aside on purpose (a stale frame)."""
        self.skipped = outcome

    @property
    def outcome(self) -> str:
        return "bad_input" if self.failed else (self.skipped or "ok")

    async def fail(self, code: str, message: str) -> None:
        """Tell the session this unit was refused; the runtime counts it as bad input."""
        self.failed = True
        await self.service.send_error(self.session_id, code, message, ref=self.msg_id, parent=self)


@dataclass
class Delivery(Generic[T]):
    message: T
    ctx: Context


Handler = Callable[[T, Context], Awaitable[None]]
BatchHandler = Callable[[list[Delivery[T]]], Awaitable[None]]


@dataclass
class _CoreConsumer:
    subject: str
    queue: str | None
    schema: type[msgspec.Struct]
    handler: Callable[..., Awaitable[None]]
    batch: BatchPolicy | None
    concurrency: int
    subscription: Subscription | None = None
    batcher: MicroBatcher[Delivery[Any]] | None = None
    semaphore: asyncio.Semaphore | None = None
    in_flight: set[asyncio.Task[bool]] = field(default_factory=set)


@dataclass
class _StreamConsumer:
    stream: str
    durable: str
    subject: str
    schema: type[msgspec.Struct]
    handler: Callable[..., Awaitable[None]]
    max_deliver: int
    ack_wait_s: float
    concurrency: int
    task: asyncio.Task[None] | None = None


def _nats_servers(url: str) -> list[str]:
    return [part.strip() for part in url.split(",") if part.strip()]


async def connect_nats(settings: MeshSettings, name: str, on_event: Callable[[str], None] | None = None) -> NATS:
    """Connect with unlimited reconnects and a short ping interval; retry the first connect too."""

    connection: list[NATS] = []

    def say(text: str) -> None:
        log.warning("%s: %s", name, text)
        if on_event is not None:
            on_event(text)

    async def disconnected() -> None:
        if connection and (connection[0].is_draining or connection[0].is_closed):
            return  # our own drain/close, not an outage
        say("NATS disconnected; reconnecting")

    async def reconnected() -> None:
        say("NATS reconnected")

    async def error(exc: Exception) -> None:
        log.warning("%s: NATS error: %s", name, exc or type(exc).__name__)

    delay = 0.2
    while True:
        try:
            nc = await nats.connect(
                servers=_nats_servers(settings.nats_url),
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,  # type: ignore[arg-type,unused-ignore]
                connect_timeout=2,
                ping_interval=settings.nats_ping_interval_s,  # type: ignore[arg-type,unused-ignore]
                max_outstanding_pings=settings.nats_max_outstanding_pings,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
                drain_timeout=30,
            )
            connection.append(nc)
            return nc
        except (OSError, nats.errors.NoServersError, TimeoutError) as exc:
            log.warning("%s: cannot reach NATS at %s (%s); retrying in %.1fs", name, settings.nats_url, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


class Service(Generic[S]):
    """One worker process: its consumers, its resources, NATS connection, metrics and health.

    A service is a subclass: `name` says who it is, `__init__` declares its consumers (bound methods),
    `setup()` opens its resources and assigns them to typed attributes (a model, a Redis client, a
    database), `teardown()` closes them. The runtime calls `setup()` before the first unit and reports
    ready only after it returned; `teardown()` after the last unit was finished.
    """

    name: ClassVar[str] = ""

    def __init__(self, settings: S, backend_name: str = "") -> None:
        if not self.name:
            raise TypeError(f"{type(self).__name__} must set the class attribute `name`")
        self.settings = settings
        self.backend_name = backend_name
        """What computes the answers, for /health (`lite`, `full`, `rules`...)."""
        self.instance = f"{socket.gethostname()}-{os.getpid()}"
        self.metrics = ServiceMetrics(self.name)
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self._core: list[_CoreConsumer] = []
        self._streams: list[_StreamConsumer] = []
        self._background: set[asyncio.Task[None]] = set()
        self.outage = Outage(self.name)
        """A dependency (Redis, the database) away: one log line per outage, not a traceback per unit."""
        self._set_up = False
        self._ready = False
        self._draining = False
        self._started_at = now()
        self._health: HealthServer | None = None
        self._health_sub: Subscription | None = None
        self._stop = asyncio.Event()
        # Models are rarely thread-safe and the event loop must stay free: one model thread.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-model")

    # --- declaration ----------------------------------------------------------------------------

    def consume(
        self,
        subject: str,
        *,
        schema: type[T],
        queue: str | None = None,
        concurrency: int = 1,
    ) -> Callable[[Handler[T]], Handler[T]]:
        """Register `handler(message, ctx)` for a core NATS subject, one unit at a time per slot."""

        def register(handler: Handler[T]) -> Handler[T]:
            self._core.append(_CoreConsumer(subject, queue, schema, handler, None, max(1, concurrency)))
            return handler

        return register

    def consume_batches(
        self, subject: str, *, schema: type[T], queue: str | None, policy: BatchPolicy
    ) -> Callable[[BatchHandler[T]], BatchHandler[T]]:
        """Register `handler(deliveries)` called with micro-batches across sessions."""

        def register(handler: BatchHandler[T]) -> BatchHandler[T]:
            self._core.append(_CoreConsumer(subject, queue, schema, handler, policy, 1))
            return handler

        return register

    def consume_durable(
        self,
        stream: str,
        subject: str,
        *,
        schema: type[T],
        durable: str,
        max_deliver: int = 5,
        ack_wait_s: float = 30.0,
        concurrency: int = 4,
    ) -> Callable[[Handler[T]], Handler[T]]:
        """Register a JetStream work-queue handler: acked after it returns, retried, then dead-lettered."""

        def register(handler: Handler[T]) -> Handler[T]:
            self._streams.append(
                _StreamConsumer(stream, durable, subject, schema, handler, max_deliver, ack_wait_s, concurrency)
            )
            return handler

        return register

    # --- resources (override) ------------------------------------------------------------------

    async def setup(self) -> None:
        """Open resources and load the model (warmed up): the service reports ready only after this."""

    async def teardown(self) -> None:
        """Close what `setup` opened; called after the last unit was finished (also after a failed start)."""

    def spawn(self, work: Awaitable[None], name: str) -> None:
        """Run a background loop (a sweeper, a retention job) for the service's life: it is cancelled on
        close, and if it ever ends with an error, the error is logged rather than lost."""

        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: background task %s failed", self.name, name)

        task = asyncio.create_task(guarded(), name=f"{self.name}-{name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- running --------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready and not self._draining

    @property
    def metrics_port(self) -> int:
        return self._health.port if self._health else 0

    async def run_blocking(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run model code on the service's model thread, off the event loop."""
        loop = asyncio.get_running_loop()
        # In the unit's context (run_in_executor does not copy it, unlike asyncio.to_thread): what the model
        # code logs carries the unit's trace id too.
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._executor, lambda: context.run(fn, *args, **kwargs))

    async def start(self) -> None:
        self._health = HealthServer(
            self.metrics.registry, lambda: self.ready, self.settings.metrics_host, self.settings.metrics_port
        )
        await self._health.start()
        log.info("%s: health and metrics on http://%s:%d", self.name, self.settings.metrics_host, self._health.port)
        self.nc = await connect_nats(self.settings, f"{self.name}-{self.instance}")
        self.js = self.nc.jetstream()
        self._health_sub = await self.nc.subscribe(subjects.HEALTH_PING, cb=self._answer_health)
        self._set_up = True
        await self.setup()
        await ensure_streams(self.js, self.settings.stream_replicas)  # idempotent; whoever starts first creates them
        for consumer in self._core:
            await self._subscribe(consumer)
        for stream_consumer in self._streams:
            stream_consumer.task = asyncio.create_task(self._pull_loop(stream_consumer), name=stream_consumer.durable)
        # Every SUB above is registered at the server before we call ourselves ready, so a unit
        # published right after readiness cannot fall into the gap.
        await sync_with_server(self.nc)
        self._ready = True
        self.metrics.ready.set(1)
        log.info("%s: ready (backend %s)", self.name, self.backend_name or "-")

    async def run(self) -> None:
        """Start, serve until SIGTERM or SIGINT, then drain and close."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        try:
            await self.start()
        except StartupError as exc:
            # One clear line (it names the fix), not a traceback; the supervisor retries with backoff.
            log.error("%s: cannot start: %s", self.name, exc)
            await self.aclose()
            raise SystemExit(2) from None
        await self._stop.wait()
        log.info("%s: stopping: draining in-flight work", self.name)
        await self.aclose()
        log.info("%s: stopped", self.name)

    def stop(self) -> None:
        self._stop.set()

    async def aclose(self) -> None:
        """Drain: stop intake, finish (and ack) every unit already taken, flush, close."""
        if self._draining:
            return
        self._draining = True
        self.metrics.ready.set(0)
        try:
            await asyncio.wait_for(self._drain_consumers(), timeout=self.settings.drain_timeout_s)
        except TimeoutError:
            log.error("%s: drain timed out after %.0fs; closing anyway", self.name, self.settings.drain_timeout_s)
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._set_up:
            await self.teardown()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._health is not None:
            await self._health.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _drain_consumers(self) -> None:
        for stream_consumer in self._streams:
            if stream_consumer.task is not None:
                stream_consumer.task.cancel()  # the loop finishes its current units before it exits
                with contextlib.suppress(asyncio.CancelledError):
                    await stream_consumer.task
        for consumer in self._core:
            if consumer.subscription is not None:
                with contextlib.suppress(Exception):
                    await consumer.subscription.drain()  # type: ignore[no-untyped-call]
            if consumer.batcher is not None:
                await consumer.batcher.aclose()
            if consumer.in_flight:
                await asyncio.gather(*consumer.in_flight, return_exceptions=True)

    # --- publishing -----------------------------------------------------------------------------

    def _sending(
        self, operation: str, subject: str, parent: Context | None
    ) -> contextlib.AbstractContextManager[Stage]:
        """The span of one publish, a child of the handler's span (or a new trace for a service's own
        message, e.g. a sweeper's): its context is the `traceparent` the message carries."""
        kind = subject_kind(subject)
        attributes = {"messaging.system": "nats", "mrrrme.kind": kind}
        if parent is not None and parent.session_id:
            attributes["mrrrme.session"] = parent.session_id  # a pseudonymous id: which socket a span served
        return span(self.name, f"{operation} {kind}", parent.trace if parent else None, "producer", attributes)

    def _headers(self, session_id: str, trace: TraceContext, msg_id: str | None = None) -> dict[str, str]:
        return make_headers(session_id, msg_id or new_id(), trace)

    async def publish(self, subject: str, message: msgspec.Struct, parent: Context | None = None) -> None:
        assert self.nc is not None, "service not started"
        session_id = getattr(message, "session_id", "") or (parent.session_id if parent else "")
        with self._sending("publish", subject, parent) as stage:
            await self.nc.publish(subject, encode(message), headers=self._headers(session_id, stage.trace))
        self.metrics.published.labels(subject_kind(subject)).inc()

    async def publish_durable(
        self, subject: str, message: msgspec.Struct, parent: Context | None = None, msg_id: str | None = None
    ) -> None:
        """Publish to JetStream and wait for the stream's ack; the same `msg_id` is de-duplicated."""
        assert self.js is not None, "service not started"
        session_id = getattr(message, "session_id", "") or (parent.session_id if parent else "")
        with self._sending("publish", subject, parent) as stage:
            await publish_durable(self.js, subject, encode(message), self._headers(session_id, stage.trace, msg_id))
        self.metrics.published.labels(subject_kind(subject)).inc()

    async def request(
        self, subject: str, message: msgspec.Struct, schema: type[Reply], timeout: float, parent: Context | None = None
    ) -> Reply:
        """Request-reply with the mesh's headers (session, trace, message id); the answer is validated."""
        assert self.nc is not None, "service not started"
        session_id = getattr(message, "session_id", "") or (parent.session_id if parent else "")
        with self._sending("request", subject, parent) as stage:
            answer = await self.nc.request(
                subject, encode(message), timeout=timeout, headers=self._headers(session_id, stage.trace)
            )
        self.metrics.published.labels(subject_kind(subject)).inc()
        return decode(answer.data, schema)

    async def send_error(
        self, session_id: str, code: str, message: str, ref: str | None = None, parent: Context | None = None
    ) -> None:
        try:
            subjects.check_session_id(session_id)
        except ValueError:
            log.warning("%s: %s for a unit without a valid session id; nobody to tell", self.name, code)
            return
        event = ErrorEvent(session_id=session_id, source=self.name, code=code, message=message, ref=ref)
        await self.publish(subjects.error(session_id), event, parent=parent)

    # --- receiving ------------------------------------------------------------------------------

    async def _answer_health(self, msg: Msg) -> None:
        if msg.reply:
            report = HealthReport(
                service=self.name,
                instance=self.instance,
                ready=self.ready,
                detail="draining" if self._draining else ("ready" if self._ready else "warming up"),
                backend=self.backend_name,
                started_at=self._started_at,
            )
            await msg.respond(encode(report))

    def _context(self, msg: Msg, session_id: str, deliveries: int = 1) -> Context:
        headers = msg.headers or {}
        sent = TraceContext.parse(headers.get(TRACEPARENT))
        return Context(
            self,
            msg.subject,
            session_id,
            headers.get(MSG_ID, ""),
            sent or TraceContext.new(),
            deliveries=deliveries,
            reply_to=msg.reply,
            remote=sent is not None,
        )

    async def _decode(self, msg: Msg, schema: type[T]) -> tuple[T, Context] | None:
        """Decode a unit, or answer the sender with `bad_message` and return None."""
        headers = msg.headers or {}
        session_id = headers.get(SESSION) or subjects.session_of(msg.subject)
        try:
            message = decode(msg.data, schema)
        except ContractError as exc:
            self.metrics.messages.labels(subject_kind(msg.subject), "bad_input").inc()
            log.info("%s: refused a unit on %s: %s", self.name, subject_kind(msg.subject), exc)
            await self.send_error(session_id, "bad_message", str(exc), ref=headers.get(MSG_ID))
            return None
        return message, self._context(msg, getattr(message, "session_id", session_id))

    async def _subscribe(self, consumer: _CoreConsumer) -> None:
        assert self.nc is not None
        if consumer.batch is not None:
            kind = subject_kind(consumer.subject)

            def dropped(_: Delivery[Any]) -> None:
                self.metrics.messages.labels(kind, "dropped").inc()

            batcher: MicroBatcher[Delivery[Any]] = MicroBatcher(
                consumer.batch, lambda batch: self._invoke_batch(consumer, batch), on_drop=dropped
            )
            consumer.batcher = batcher
            batcher.start()
            self.metrics.queued.labels(kind).set_function(lambda: batcher.pending)
        elif consumer.concurrency > 1:
            consumer.semaphore = asyncio.Semaphore(consumer.concurrency)

        async def on_message(msg: Msg) -> None:
            decoded = await self._decode(msg, consumer.schema)
            if decoded is None:
                return
            message, ctx = decoded
            if consumer.batcher is not None:
                consumer.batcher.put(Delivery(message, ctx))
            elif consumer.semaphore is not None:
                await consumer.semaphore.acquire()
                task = asyncio.create_task(self._invoke(consumer.handler, message, ctx))
                consumer.in_flight.add(task)

                def done(t: asyncio.Task[bool]) -> None:
                    consumer.in_flight.discard(t)
                    assert consumer.semaphore is not None
                    consumer.semaphore.release()

                task.add_done_callback(done)
            else:
                await self._invoke(consumer.handler, message, ctx)

        consumer.subscription = await self.nc.subscribe(
            consumer.subject, queue=consumer.queue or "", cb=on_message, pending_msgs_limit=4096
        )

    def _stage(self, ctx: Context, batch: int = 1) -> contextlib.AbstractContextManager[Stage]:
        """The handler's span of one unit, a child of the span that published it."""
        kind = subject_kind(ctx.subject)
        attributes: dict[str, str | int] = {"messaging.system": "nats", "mrrrme.kind": kind}
        if ctx.session_id:
            attributes["mrrrme.session"] = ctx.session_id
        if batch > 1:
            attributes["messaging.batch.message_count"] = batch
        if ctx.deliveries > 1:
            attributes["mrrrme.deliveries"] = ctx.deliveries
        return span(self.name, f"process {kind}", ctx.trace if ctx.remote else None, "consumer", attributes)

    async def _invoke(self, handler: Callable[..., Awaitable[None]], message: Any, ctx: Context) -> bool:
        """Call a handler on one unit; True when it was handled without error."""
        with self._stage(ctx) as stage:
            ctx.trace, ctx.stage = stage.trace, stage
            return await self._invoke_untraced(handler, message, ctx)

    async def _invoke_untraced(self, handler: Callable[..., Awaitable[None]], message: Any, ctx: Context) -> bool:
        kind = subject_kind(ctx.subject)
        started = time.perf_counter()
        outcome = "ok"
        try:
            await handler(message, ctx)
        except BadInput as exc:
            outcome = "bad_input"
            await ctx.fail(exc.code, exc.message)
        except Exception as exc:
            if self.outage.started(exc):
                outcome = "unavailable"
                await ctx.fail("service_unavailable", f"the {self.name} service is briefly unavailable; try again")
            else:
                outcome = "error"
                log.exception("%s: handler failed on a unit from %s", self.name, kind)
                await ctx.fail("internal", f"the {self.name} service could not process this {kind.split('.')[0]}")
        else:
            outcome = ctx.outcome
            self.outage.ended()
        finally:
            self.metrics.handler_seconds.labels(kind).observe(time.perf_counter() - started)
            self.metrics.batch_size.labels(kind).observe(1)
        self.metrics.messages.labels(kind, outcome).inc()
        if ctx.stage is not None:
            ctx.stage.outcome(outcome)
        return outcome == "ok"

    async def _invoke_batch(self, consumer: _CoreConsumer, batch: list[Delivery[Any]]) -> None:
        # One span per unit, all over the one model call: each unit's trace shows the batch it rode in.
        with contextlib.ExitStack() as spans:
            for delivery in batch:
                stage = spans.enter_context(self._stage(delivery.ctx, len(batch)))
                delivery.ctx.trace, delivery.ctx.stage = stage.trace, stage
            await self._invoke_batch_untraced(consumer, batch)

    async def _invoke_batch_untraced(self, consumer: _CoreConsumer, batch: list[Delivery[Any]]) -> None:
        kind = subject_kind(consumer.subject)
        started = time.perf_counter()
        try:
            await consumer.handler(batch)
        except Exception:
            log.exception("%s: batch handler failed on %d units", self.name, len(batch))
            for delivery in batch:
                if not delivery.ctx.failed:
                    await delivery.ctx.fail("internal", f"the {self.name} service could not process this unit")
                    self.metrics.messages.labels(kind, "error").inc()
                    if delivery.ctx.stage is not None:
                        delivery.ctx.stage.outcome("error")
            return
        finally:
            self.metrics.handler_seconds.labels(kind).observe(time.perf_counter() - started)
            self.metrics.batch_size.labels(kind).observe(len(batch))
        for delivery in batch:
            self.metrics.messages.labels(kind, delivery.ctx.outcome).inc()
            if delivery.ctx.stage is not None:
                delivery.ctx.stage.outcome(delivery.ctx.outcome)

    async def _pull_loop(self, consumer: _StreamConsumer) -> None:
        assert self.js is not None
        config = ConsumerConfig(
            durable_name=consumer.durable,
            ack_policy=AckPolicy.EXPLICIT,
            max_deliver=consumer.max_deliver,
            ack_wait=consumer.ack_wait_s,
            max_ack_pending=max(consumer.concurrency * 4, 16),
            filter_subject=consumer.subject,
        )
        psub = await self.js.pull_subscribe(
            consumer.subject, durable=consumer.durable, stream=consumer.stream, config=config
        )
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while True:
                free = consumer.concurrency - len(in_flight)
                if free <= 0:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    msgs = await psub.fetch(batch=free, timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.ConnectionClosedError:
                    return
                except Exception as exc:  # broker restarting: keep polling, the client reconnects
                    log.warning("%s: fetch from %s failed: %s", self.name, consumer.stream, exc)
                    await asyncio.sleep(0.5)
                    continue
                for msg in msgs:
                    task = asyncio.create_task(self._handle_durable(consumer, msg))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
        except asyncio.CancelledError:
            # Draining: units already taken are finished and acked, the rest stay in the stream.
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            with contextlib.suppress(Exception):
                await psub.unsubscribe()
            raise

    async def _handle_durable(self, consumer: _StreamConsumer, msg: Msg) -> None:
        kind = subject_kind(msg.subject)
        deliveries = msg.metadata.num_delivered
        if deliveries > 1:
            self.metrics.redeliveries.labels(kind).inc()
        decoded = await self._decode(msg, consumer.schema)
        if decoded is None:
            await self._dead_letter(consumer, msg, "bad_message")
            return
        message, ctx = decoded
        ctx.deliveries = deliveries
        with self._stage(ctx) as stage:
            ctx.trace, ctx.stage = stage.trace, stage
            await self._finish_durable(consumer, msg, message, ctx)

    async def _finish_durable(self, consumer: _StreamConsumer, msg: Msg, message: Any, ctx: Context) -> None:
        deliveries = ctx.deliveries
        # While the handler works, the unit is marked in progress every third of `ack_wait_s`: a short
        # ack wait then redelivers a dead worker's unit soon without ever redelivering a slow one's.
        heartbeat = asyncio.create_task(self._keep_in_progress(msg, consumer.ack_wait_s / 3))
        try:
            handled = await self._invoke_durable(consumer.handler, message, ctx)
        finally:
            heartbeat.cancel()
        try:
            if handled is True:
                await msg.ack()
            elif handled == "bad_input":
                await self._dead_letter(consumer, msg, "bad_input")
            elif deliveries >= consumer.max_deliver:
                await self._dead_letter(consumer, msg, "handler_failed")
            else:
                await msg.nak(delay=min(0.5 * 2 ** (deliveries - 1), 10.0))
        except Exception as exc:  # the broker went away: the unit is redelivered after its ack wait
            log.warning("%s: could not settle a unit from %s (%s); it will be redelivered", self.name,
                        subject_kind(msg.subject), type(exc).__name__)  # fmt: skip

    @staticmethod
    async def _keep_in_progress(msg: Msg, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _invoke_durable(self, handler: Callable[..., Awaitable[None]], message: Any, ctx: Context) -> bool | str:
        """Like `_invoke`, but a crash is retried (no error event until the last delivery)."""
        kind = subject_kind(ctx.subject)
        started = time.perf_counter()
        try:
            await handler(message, ctx)
        except BadInput as exc:
            await ctx.fail(exc.code, exc.message)
            self._count(ctx, kind, "bad_input")
            return "bad_input"
        except RetryLater as exc:
            log.warning("%s: will retry a unit (delivery %d): %s", self.name, ctx.deliveries, exc)
            self._count(ctx, kind, "retry")
            return False
        except Exception as exc:
            if self.outage.started(exc):  # redelivered with backoff once the dependency is back
                self._count(ctx, kind, "retry")
            else:
                log.exception("%s: durable handler failed (delivery %d)", self.name, ctx.deliveries)
                self._count(ctx, kind, "error")
            return False
        finally:
            self.metrics.handler_seconds.labels(kind).observe(time.perf_counter() - started)
        self.outage.ended()
        self._count(ctx, kind, ctx.outcome)
        return True

    def _count(self, ctx: Context, kind: str, outcome: str) -> None:
        self.metrics.messages.labels(kind, outcome).inc()
        if ctx.stage is not None:
            ctx.stage.outcome(outcome)

    async def _dead_letter(self, consumer: _StreamConsumer, msg: Msg, reason: str) -> None:
        assert self.js is not None
        headers = dict(msg.headers or {})
        headers.pop(MSG_ID, None)
        headers.update({"Mrrrme-Reason": reason, "Mrrrme-Deliveries": str(msg.metadata.num_delivered)})
        await publish_durable(self.js, subjects.dead_letter(consumer.stream), msg.data, headers)
        self.metrics.dead_letters.labels(subject_kind(msg.subject)).inc()
        if reason == "handler_failed":
            session_id = (msg.headers or {}).get(SESSION) or subjects.session_of(msg.subject)
            await self.send_error(session_id, "failed", f"the {self.name} service gave up on this request")
        await msg.term()
        log.warning("%s: dead-lettered a unit from %s (%s)", self.name, subject_kind(msg.subject), reason)


async def publish_durable(
    js: JetStreamContext, subject: str, data: bytes, headers: dict[str, str], attempts: int = 5
) -> None:
    """Publish and wait for the stream's ack, retrying with the same message id (de-duplicated)."""
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            await js.publish(subject, data, headers=headers, timeout=2.0)
            return
        except (
            nats.errors.TimeoutError,
            nats.js.errors.NoStreamResponseError,
            nats.errors.ConnectionClosedError,
        ):
            if attempt == attempts:
                raise
            await asyncio.sleep(delay)
            delay *= 2

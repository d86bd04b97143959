"""The shape every model service shares (Triton's prepare / execute / respond): a unit is checked and
turned into a model input, the model runs once on a whole micro-batch, and each result is answered.

A subclass supplies four methods, all run on the service's model thread:
- `load()`: build the backend (`self.backend = self.backends.create(self.settings)`, the default) and
  whatever else the model needs; `warm_up()`: one inference, so /readyz turns green only when the model is really ready;
- `prepare(unit) -> input | Ready`: decode and check one unit; raise `BadInput` for what cannot be used,
  or return `Ready(event)` when the answer needs no model (no face in the frame, no speech);
- `infer(inputs) -> outputs`: the model, once, on every prepared input of the batch (same order);
- `respond(unit, input, output) -> event`: the event published for that unit.

The runtime sets refused units aside (each sender gets its `BadInput` as an error event), runs the model
once on the rest, lines the results back up with their units and counts every outcome once. `admit`
(on the event loop, before any of this) may set a unit aside without an answer, e.g. a stale frame.

`process(units)` is the same pipeline without NATS: the tests, the benches and the evaluation harness
call it in-process to get exactly what the service would publish.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from mrrrme.contracts import ErrorEvent
from mrrrme.registry import Backends
from mrrrme.runtime.batching import BatchPolicy
from mrrrme.runtime.service import BadInput, Context, Delivery, Service
from mrrrme.settings import BatchSettings

B = TypeVar("B", bound=BatchSettings)
U = TypeVar("U", bound=msgspec.Struct)
I = TypeVar("I")  # noqa: E741 (the prepared model input, as in Triton's "inputs")
O = TypeVar("O")  # noqa: E741 (the model's output for one input)


@dataclass(frozen=True, slots=True)
class Ready:
    """`prepare`'s answer for a unit that needs no model call: this event is published as it is."""

    event: msgspec.Struct


@dataclass(frozen=True, slots=True)
class Consumes(Generic[U]):
    """What a model service takes and where its answers go: a queue group on `subject` whose units decode
    as `schema`; each answer is published on `reply_to(session_id)`."""

    subject: str
    schema: type[U]
    queue: str
    reply_to: Callable[[str], str]


class ModelService(Service[B], Generic[B, U, I, O]):
    """A subclass names its `backends` registry and what it `consumes`; the batching comes from its
    settings (`BatchSettings`: max_batch, max_wait_ms, max_queue)."""

    backends: ClassVar[Backends[Any]]
    consumes: ClassVar[Consumes[Any]]

    def __init__(self, settings: B) -> None:
        super().__init__(settings, self.backends.chosen(settings).name)
        consumes = self.consumes
        self.reply_to = consumes.reply_to
        self.policy = BatchPolicy(settings.max_batch, settings.max_wait_ms, max(settings.max_queue, settings.max_batch))
        self.consume_batches(consumes.subject, schema=consumes.schema, queue=consumes.queue, policy=self.policy)(
            self._on_batch
        )

    def answer_requests(self, subject: str) -> None:
        """Also take units sent as requests on `subject` (same queue group and batches): each answer goes
        back to its requester alone, and a refusal is an `ErrorEvent` reply rather than an error to the
        session (asr's early utterances: only the gateway that asked sees the result)."""
        consumes = self.consumes
        self.consume_batches(subject, schema=consumes.schema, queue=consumes.queue, policy=self.policy)(
            self._on_requests
        )

    # --- what a model service supplies ------------------------------------------------------------

    backend: Any  # each service narrows it to its backend's type

    def load(self) -> None:
        """Build the backend and load its weights (a service that needs more extends this)."""
        self.backend = self.backends.create(self.settings)

    @abstractmethod
    def warm_up(self) -> None:
        """One inference on made-up input."""

    @abstractmethod
    def prepare(self, unit: U) -> I | Ready:
        """Check and decode one unit (raise BadInput for what cannot be used)."""

    @abstractmethod
    def infer(self, inputs: list[I]) -> list[O]:
        """The model on every prepared input of a batch, one output per input, in order."""

    @abstractmethod
    def respond(self, unit: U, prepared: I, output: O) -> msgspec.Struct:
        """The event to publish for `unit`."""

    def admit(self, unit: U, ctx: Context) -> bool:
        """False sets a unit aside before the model thread; call `ctx.skip(outcome)` to count why."""
        return True

    # --- the pipeline -----------------------------------------------------------------------------

    def process(self, units: list[U]) -> list[msgspec.Struct | BadInput]:
        """Prepare, infer once, respond: what the service would publish for each unit (or its refusal)."""
        answers: dict[int, msgspec.Struct | BadInput] = {}
        pending: list[tuple[int, I]] = []
        for index, unit in enumerate(units):
            try:
                prepared = self.prepare(unit)
            except BadInput as refused:
                answers[index] = refused
                continue
            if isinstance(prepared, Ready):
                answers[index] = prepared.event
            else:
                pending.append((index, prepared))
        outputs = self.infer([prepared for _, prepared in pending]) if pending else []
        if len(outputs) != len(pending):
            raise RuntimeError(f"{self.name}: the model gave {len(outputs)} outputs for {len(pending)} inputs")
        for (index, prepared), output in zip(pending, outputs, strict=True):
            answers[index] = self.respond(units[index], prepared, output)
        return [answers[index] for index in range(len(units))]

    async def setup(self) -> None:
        await self.run_blocking(self.load)
        await self.run_blocking(self.warm_up)

    async def _on_batch(self, batch: list[Delivery[Any]]) -> None:
        for delivery, result in await self._run(batch):
            if isinstance(result, BadInput):
                await delivery.ctx.fail(result.code, result.message)
            else:
                await delivery.ctx.publish(self.reply_to(delivery.ctx.session_id), result)

    async def _on_requests(self, batch: list[Delivery[Any]]) -> None:
        for delivery, result in await self._run(batch):
            if isinstance(result, BadInput):
                delivery.ctx.skip("bad_input")
                result = ErrorEvent(
                    session_id=delivery.ctx.session_id, source=self.name, code=result.code, message=result.message
                )
            if delivery.ctx.reply_to:
                await delivery.ctx.respond(result)

    async def _run(self, batch: list[Delivery[Any]]) -> list[tuple[Delivery[Any], msgspec.Struct | BadInput]]:
        admitted = [delivery for delivery in batch if self.admit(delivery.message, delivery.ctx)]
        if not admitted:
            return []
        results = await self.run_blocking(self.process, [delivery.message for delivery in admitted])
        return list(zip(admitted, results, strict=True))

"""The mesh on a 3-node JetStream cluster with replicated (R3) streams: one node killed, no turn lost."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StreamInfo
from nats.js.errors import NotFoundError

from mrrrme import subjects
from mrrrme.contracts import ReplySentence, Turn, decode, encode, new_id
from mrrrme.runtime import publish_durable
from mrrrme.runtime.tracing import TraceContext, make_headers
from mrrrme.stack.infra import NatsCluster
from tests.workers.echo import EchoService, EchoSettings

TURNS = 40


async def stream_info(js: JetStreamContext) -> StreamInfo:
    """The turn stream as this client's node sees it: a stream just created through another node can
    answer 'not found' for a moment, until the cluster's metadata has reached every node."""
    async with asyncio.timeout(15):
        while True:
            try:
                return await js.stream_info(subjects.TURN_STREAM)
            except NotFoundError:
                await asyncio.sleep(0.2)


async def test_a_three_node_cluster_loses_no_turn_when_a_node_dies() -> None:
    with NatsCluster(3) as cluster:
        servers = cluster.url.split(",")
        client = await nats.connect(servers=servers, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        replies: list[str] = []

        async def collect(msg: Msg) -> None:
            replies.append(decode(msg.data, ReplySentence).turn_id)

        await client.subscribe(subjects.reply_text("cl1"), cb=collect)
        settings = EchoSettings(nats_url=cluster.url, durable=True, stream_replicas=3, delay_ms=20)
        try:
            async with EchoService(settings):
                js = client.jetstream()
                info = await stream_info(js)
                assert info.config.num_replicas == 3
                sent = []
                for i in range(TURNS):
                    if i == TURNS // 3:
                        cluster.nodes[0].kill()  # mid-conversation, with turns in flight
                    turn = Turn(session_id="cl1", turn_id=new_id(), text=f"turn {i}")
                    headers = make_headers("cl1", turn.turn_id, TraceContext.new())
                    await publish_durable(js, subjects.turn("cl1"), encode(turn), headers, attempts=20)
                    sent.append(turn.turn_id)
                    await asyncio.sleep(0.05)
                async with asyncio.timeout(60):
                    while set(replies) < set(sent):
                        await asyncio.sleep(0.1)
        finally:
            await client.close()
    lost = set(sent) - set(replies)
    duplicated = len(replies) - len(set(replies))
    print(f"\ncluster, one node killed: {TURNS} turns, {len(lost)} lost, {duplicated} answered twice")
    assert not lost

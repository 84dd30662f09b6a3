"""The event stream: every client reads the event log from its position, then live.

One `Broadcaster` per process reads each new stretch of the log once (woken by the store when
an event is committed) and hands it to every connected client, so 500 clients cost one read.
A client first catches up from the store past its position (`Last-Event-ID` or `?since=`),
then takes the broadcast batches, skipping what it already sent: no event is lost between the
two and none is sent twice. A client too slow to keep up with the broadcast (its queue full)
is not dropped: it goes back to reading the store from where it is.

Each event is encoded as a Server-Sent Events frame once per broadcast, and a client gets the
frames of one batch in one write: with many clients the cost is in neither the encoding nor
the number of writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from jobhub.store import EventFilter, Store, StoredEvent

__all__ = ["Broadcaster"]

READ = 500  # events per read from the store
CLIENT_QUEUE = 64  # broadcast batches a client may have waiting
TICK = 1.0  # seconds: how often an idle client's loop comes round
# Seconds between broadcasts at most: commits closer together than this reach clients as one
# batch, so a busy log costs each client fewer, larger writes (a little lag for much less work).
BROADCAST_EVERY = 0.1


Framed = tuple[StoredEvent, bytes]


def frame(event: StoredEvent) -> bytes:
    """The event as one SSE frame (its JSON holds no line break, so one `data:` line)."""
    return f"id: {event.seq}\nevent: job\ndata: {event.data()}\n\n".encode()


def _framed(batch: list[StoredEvent]) -> list[Framed]:
    return [(event, frame(event)) for event in batch]


class _Client:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[list[Framed]] = asyncio.Queue(CLIENT_QUEUE)
        self.overflowed = False


class Broadcaster:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.head = 0
        self._clients: set[_Client] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        self.head = await self.store.last_seq()
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = -BROADCAST_EVERY
        while True:
            await self.store.wait_for_events(self.head, timeout=30.0)
            await asyncio.sleep(max(0.0, last + BROADCAST_EVERY - loop.time()))
            last = loop.time()
            while batch := await self.store.events(after=self.head, limit=READ):
                self.head = batch[-1].seq
                framed = _framed(batch)
                for client in list(self._clients):
                    try:
                        client.queue.put_nowait(framed)
                    except asyncio.QueueFull:
                        client.overflowed = True
                        self._clients.discard(client)

    async def follow(self, since: int | None, wanted: EventFilter) -> AsyncIterator[bytes | None]:
        """SSE frames of the events past `since` (None: from now on) that `wanted` matches,
        several at a time, for as long as the caller iterates; None about once a second while
        there is nothing new (so the caller can look at other things, e.g. backend health)."""
        position = self.head if since is None else since
        while True:
            client = _Client()
            self._clients.add(client)
            try:
                # Catch up from the store; the broadcast queue fills meanwhile.
                while True:
                    batch = await self.store.events(after=position, limit=READ)
                    if chunk := b"".join(f for e, f in _framed(batch) if wanted.matches(e)):
                        yield chunk
                    if batch:
                        position = batch[-1].seq
                    if len(batch) < READ:
                        break
                while not client.overflowed or not client.queue.empty():
                    try:
                        async with asyncio.timeout(TICK):  # a timer, not a task per wait
                            framed = await client.queue.get()
                    except TimeoutError:
                        yield None
                        continue
                    fresh = [(e, f) for e, f in framed if e.seq > position]
                    if fresh:
                        position = fresh[-1][0].seq
                    if chunk := b"".join(f for e, f in fresh if wanted.matches(e)):
                        yield chunk
            finally:
                self._clients.discard(client)

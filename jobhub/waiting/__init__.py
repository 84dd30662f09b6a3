"""Waiting for jobs: `wait`, `wait_all`, `as_completed` and `watch` behind `Hub` and `AsyncHub`.

How it is built:

- `events.job_events` — the pure diff of two views of a job into `JobEvent`s.
- `schedule` — `Backoff` (jittered exponential pauses from `poll_interval` to `poll_max`) and
  `Deadline` (one time budget for a whole call). Pure.
- `state` — what is known of each followed job (`FollowedJob`) and each backend
  (`BackendState`), and the news reported (`JobUpdate`).
- `policy` — when to poll, which backoff, what a fault means, the `Retry-After` pause.
- one module per strategy: `longpoll` (held `await_job`s), `refresh` (one batch refresh per
  backend), `polling` (a GET per job, helped by workflow listings; a watched backend's
  listing), `first_look` (one listing for the first view of many jobs).
- `engine.Engine` — follows jobs with those strategies and reports each new view of a job.
- `waiter.Waiter` — the four operations over an engine, as coroutines / async iterators.
- `blocking` — the sync face: the same `Waiter` on a private event loop in a worker thread.

The engine is written once, in asyncio, and the sync `Hub` runs it on its own loop in a worker
thread rather than having twin sync and async engines: long-polls hold one request per job,
which asyncio does cheaply and threads would not, and there is then exactly one copy of the
scheduling logic. A sync call works from any thread, whether or not that thread runs an event
loop (it blocks that loop while it waits: inside async code use `AsyncHub`), and Ctrl-C stops
it within a fraction of a second, cancelling every request in flight.
"""

from __future__ import annotations

from jobhub.waiting.events import job_events, new_outputs
from jobhub.waiting.schedule import Backoff, Deadline
from jobhub.waiting.waiter import Waiter

__all__ = ["Backoff", "Deadline", "Waiter", "job_events", "new_outputs"]

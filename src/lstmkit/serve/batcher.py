"""Dynamic batching: requests for one model that arrive close together run as one call of ``predict_records``.

One :class:`Batcher` per model: an asyncio queue of jobs (one request's inputs, its options, a future) and a
worker task. The worker takes the first job waiting, then gathers more for up to ``max_wait`` seconds or until
``max_batch`` inputs, groups the jobs by their options (only equal options share a call), runs each group's
concatenated inputs in a one-thread executor (the event loop stays free to read requests, and one model never
runs two calls at once), and hands each job its own slice of the records. In the executor a batch runs
length-bucketed: its inputs sorted by length, in calls of up to ``BUCKET`` (a padded call costs its longest
input times its size: onnxruntime's LSTM runs the padding, and on the default classifier 32 texts took 1.4 to
1.7 times as long in one call as in four calls of 8 sorted by length; PyTorch's packed kernel gains 1.1 times). While a call runs, new requests
queue, so under load the next gather finds them waiting: batches grow with the load.

Each job's time is two parts, into the metrics and the job's ``timing`` dict (the ``Server-Timing`` header):
``queue``, from its arrival until its group's model call begins (the gathering window, and any call running
before it), and ``model``, the model call(s) that computed it (the whole batch's, shared by its requests).

A batch never changes an answer: every task predicts each input on its own (padding and lengths mask the rest).
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .metrics import ServerMetrics
from .models import RequestError, ServedModel

BUCKET = 8          # inputs per model call inside a batch, sorted by length (see above)


@dataclass
class Job:
    """One request's inputs, its options, where its records go, and where its times go (seconds)."""

    inputs: list
    options: tuple
    future: asyncio.Future
    timing: dict = field(default_factory=dict)
    queued: float = field(default_factory=time.perf_counter)


class Batcher:
    """Gathers the jobs of one model into batches of up to ``max_batch`` inputs, waiting up to ``max_wait``
    seconds after the first one (0, the default: a batch of what is queued when the model is free; a lone client
    pays the wait on every request); ``max_batch=1`` runs every request alone (no batching)."""

    def __init__(self, model: ServedModel, metrics: ServerMetrics, max_batch: int = 64, max_wait: float = 0.0):
        if max_batch < 1 or max_wait < 0:
            raise ValueError(f"Batcher: max_batch >= 1 and max_wait >= 0, got {max_batch} and {max_wait}")
        self.model, self.metrics = model, metrics
        metrics.add_model(model.name)
        self.max_batch, self.max_wait, self.bucket = max_batch, max_wait, BUCKET
        self.queue: asyncio.Queue | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lstmkit-{model.name}")
        self._task: asyncio.Task | None = None
        self._held: Job | None = None        # a job that did not fit the last batch: the next batch's first

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._work(), name=f"batcher-{self.model.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.executor.shutdown(wait=True)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def submit(self, inputs: list, options: tuple = (), timing: dict | None = None) -> list[dict]:
        """The records of ``inputs``, computed in some batch; cancelling the wait (a timeout) drops the job.
        ``timing``, when given, receives the request's ``queue`` and ``model`` seconds."""
        job = Job(list(inputs), options, asyncio.get_running_loop().create_future(),
                  {} if timing is None else timing)
        self.metrics.queued(self.model.name, len(job.inputs))
        self.queue.put_nowait(job)
        return await job.future

    async def _next(self, timeout: float | None) -> Job:
        if self._held is not None:
            job, self._held = self._held, None
            return job
        if timeout is None:
            job = await self.queue.get()
        elif timeout <= 0 or not self.queue.empty():
            job = self.queue.get_nowait()                    # asyncio.QueueEmpty when none is waiting
        else:
            job = await asyncio.wait_for(self.queue.get(), timeout)
        self.metrics.queued(self.model.name, -len(job.inputs))
        return job

    async def _gather(self) -> list[Job]:
        loop = asyncio.get_running_loop()
        jobs = [await self._next(None)]
        size, deadline = len(jobs[0].inputs), loop.time() + self.max_wait
        while size < self.max_batch:
            try:
                job = await self._next(deadline - loop.time())
            except (asyncio.TimeoutError, asyncio.QueueEmpty):
                break
            if size + len(job.inputs) > self.max_batch:
                self._held = job
                break
            jobs.append(job)
            size += len(job.inputs)
        return [j for j in jobs if not j.future.done()]     # a request that timed out waits no more

    async def _work(self) -> None:
        while True:
            jobs = await self._gather()
            groups: dict[tuple, list[Job]] = {}
            for job in jobs:
                groups.setdefault(job.options, []).append(job)
            for options, group in groups.items():
                await self._run(group, options)

    async def _run(self, jobs: list[Job], options: tuple) -> None:
        """One batch per ``max_batch`` inputs of ``jobs`` (a request larger than that is split)."""
        inputs = [x for job in jobs for x in job.inputs]
        loop = asyncio.get_running_loop()
        records: list[dict] = []
        began = time.perf_counter()
        for job in jobs:
            job.timing["queue"] = began - job.queued
        try:
            for start in range(0, len(inputs), self.max_batch):
                chunk = inputs[start:start + self.max_batch]
                called = time.perf_counter()
                records += await loop.run_in_executor(self.executor, self._predict, chunk, options)
                self.metrics.batch(self.model.name, len(chunk), len(jobs), time.perf_counter() - called)
            if len(records) != len(inputs):
                raise RuntimeError(f"{self.model.name}: {len(records)} records for {len(inputs)} inputs")
        except (ValueError, TypeError) as e:           # the library's word on these inputs or options
            return _fail(jobs, RequestError(422, f"{self.model.name}: {e}"))
        except Exception as e:                         # noqa: BLE001  (one bad batch never stops the worker)
            return _fail(jobs, RuntimeError(f"{self.model.name}: {type(e).__name__}: {e}"))
        seconds = time.perf_counter() - began
        at = 0
        for job in jobs:
            if not job.future.done():
                job.timing["model"] = seconds
                self.metrics.waited(self.model.name, job.timing["queue"], seconds)
                job.future.set_result(records[at:at + len(job.inputs)])
            at += len(job.inputs)


    def _predict(self, inputs: list, options: tuple) -> list[dict]:
        """The records of ``inputs`` (in their order), from calls of up to ``bucket`` inputs of like lengths."""
        order = sorted(range(len(inputs)), key=lambda k: len(inputs[k]) if isinstance(inputs[k], str) else 0)
        records: list = [None] * len(inputs)
        for start in range(0, len(order), self.bucket):
            call = order[start:start + self.bucket]
            found = self.model.predict([inputs[k] for k in call], options)
            if len(found) != len(call):
                raise RuntimeError(f"{self.model.name}: {len(found)} records for {len(call)} inputs")
            for k, record in zip(call, found):
                records[k] = record
        return records


def _fail(jobs: list[Job], error: Exception) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(error)

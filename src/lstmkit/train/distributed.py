"""Data-parallel training on ``torch.distributed``, launched by ``torchrun``: one process per CPU share or GPU.

``torchrun --standalone --nproc_per_node N -m lstmkit train TASK ...`` starts N copies of the same command with
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in their environment; :func:`setup` joins them into one process group
(gloo on the CPU, NCCL on CUDA with one GPU per local rank). What each rank does (:func:`lstmkit.train.trainer.fit`):

- every rank builds the same length-bucketed order of *global* batches of ``--batch-size`` examples (the order is
  a function of the seed and the epoch) and takes its consecutive share of each (``split_batch``);
- its loss is weighted by its share of the global batch's count (examples, or tokens where the task averages
  over tokens), the gradients are summed over the ranks in one flat all-reduce (:func:`sum_gradients`), so each
  rank holds the gradient of the whole batch's mean loss and takes the same optimizer step: N processes train the
  model one process trains, to float32 rounding (the sum runs in another order);
- rank 0 alone writes the run folder, logs, shows progress, keeps checkpoints and scores the dev set; the others
  receive the dev metrics (:func:`broadcast_json`), so early stopping and model selection agree everywhere;
- a resumed training (``--resume``, or an elastic restart: ``TORCHELASTIC_RESTART_COUNT`` > 0) is read by rank 0
  and sent to the others (:func:`broadcast_tensors`), so on several machines only rank 0 needs the run folder.

Why no ``DistributedDataParallel`` wrapper: lstmkit's tasks compute a loss through parts of their model (a CRF's
likelihood, a decoder's step loop, a carried LM state), not through one ``forward``, which DDP's reducer needs to
see. The reduction is DDP's own (one all-reduce of the summed gradients after ``backward``), done explicitly.
"""
from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

TIMEOUT = timedelta(minutes=30)     # a collective waits this long for a slow rank (a dev evaluation, a save)
_OWNED = False                      # whether :func:`setup` made this process's group (and :func:`close` ends it)
_AGREED = False                     # whether every rank raised the error :func:`agree` spread (see :func:`settle`)


class PeerLost(ValueError):
    """A collective failed: another process of the job died or cannot be reached."""


def _collective(fn):
    """A failed collective (a rank died: gloo's "Connection reset by peer", NCCL's errors) as one line."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RuntimeError as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise PeerLost(f"another process of this torchrun job failed or is unreachable ({first}); under "
                           f"--max-restarts torchrun restarts the job, which resumes from the last checkpoint; "
                           f"else continue with --resume") from None
    return call


@dataclass(frozen=True)
class Group:
    """This process's place in a torchrun job: ``rank`` of ``world`` (``local_rank`` on its machine), and how
    many times torchrun restarted the job (``restart``)."""

    rank: int
    world: int
    local_rank: int
    restart: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.strip().isdigit():
        raise ValueError(f"{name} must be a non-negative integer (torchrun sets it), got {value!r}")
    return int(value)


def environment() -> Group | None:
    """The torchrun job this process belongs to, read from its environment; None for a single process."""
    world = _int_env("WORLD_SIZE", 1)
    if world <= 1:
        return None
    rank, local = _int_env("RANK", 0), _int_env("LOCAL_RANK", 0)
    if rank >= world:
        raise ValueError(f"RANK must be below WORLD_SIZE {world}, got {rank}")
    return Group(rank, world, local, _int_env("TORCHELASTIC_RESTART_COUNT", 0))


def setup(device: torch.device) -> Group | None:
    """Join the process group of a torchrun job (once per process): gloo for CPU training, NCCL for CUDA (each
    rank on GPU ``LOCAL_RANK``). None outside torchrun (or with one process)."""
    group = environment()
    if group is None:
        return None
    if not dist.is_available():
        raise ValueError("torchrun started this training, but this PyTorch build has no torch.distributed")
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(group.local_rank)
        backend = "nccl" if device.type == "cuda" else "gloo"
        if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
            # torchrun's agent keeps one store across restarts: each attempt's keys under a prefix of their own,
            # or a restarted group reads the dead attempt's addresses and cannot connect
            store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), group.world,
                                  is_master=False, timeout=TIMEOUT)
            dist.init_process_group(backend, store=dist.PrefixStore(f"lstmkit/attempt_{group.restart}", store),
                                    rank=group.rank, world_size=group.world, timeout=TIMEOUT)
        else:
            dist.init_process_group(backend, timeout=TIMEOUT)
        global _OWNED
        _OWNED = True
    if dist.get_world_size() != group.world or dist.get_rank() != group.rank:
        raise ValueError(f"the process group ({dist.get_rank()} of {dist.get_world_size()}) is not the one the "
                         f"environment names ({group.rank} of {group.world})")
    return group


def rank_device(device: torch.device, group: Group | None) -> torch.device:
    """The device a rank trains on: its own GPU (``cuda:LOCAL_RANK``) under torchrun, else ``device``."""
    return torch.device("cuda", group.local_rank) if group is not None and device.type == "cuda" else device


def _comm_device() -> torch.device:
    """Where collectives' tensors must live: the rank's GPU for NCCL, the CPU for gloo."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


@_collective
def broadcast_json(value=None):
    """Rank 0's JSON-ready ``value``, on every rank (the others' argument is ignored). Sent as UTF-8 bytes: no
    pickle, unlike ``broadcast_object_list``."""
    device = _comm_device()
    data = json.dumps(value, ensure_ascii=False).encode() if dist.get_rank() == 0 else b""
    size = torch.tensor([len(data)], dtype=torch.int64, device=device)
    dist.broadcast(size, 0)
    buffer = torch.zeros(int(size.item()), dtype=torch.uint8, device=device)
    if dist.get_rank() == 0:
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buffer, 0)
    return json.loads(bytes(buffer.cpu().numpy()).decode())


@_collective
def broadcast_tensors(tensors: dict | None) -> dict | None:
    """Rank 0's ``{name: tensor}`` (or None) on every rank, as CPU tensors (names, dtypes and shapes go first)."""
    spec = broadcast_json(None if tensors is None else
                          [[k, str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in tensors.items()])
    if spec is None:
        return None
    device, out = _comm_device(), {}
    for name, dtype, shape in spec:
        t = tensors[name].to(device) if dist.get_rank() == 0 else torch.empty(shape, dtype=getattr(torch, dtype),
                                                                             device=device)
        dist.broadcast(t, 0)
        out[name] = t.cpu()
    return out


@_collective
def broadcast_parameters(model: torch.nn.Module) -> None:
    """Every rank starts from rank 0's weights and buffers (as DDP does when it wraps a model)."""
    for t in model.state_dict().values():
        dist.broadcast(t.data, 0)


@_collective
def sum_gradients(params: list, stats: list[float]) -> list[float]:
    """Sum every parameter's gradient over the ranks, in one flat all-reduce (a parameter that took no part in
    this rank's loss counts zero); ``stats`` (the rank's loss sum, its stop flag, ...) are summed alongside, in
    float64. Returns the summed ``stats``; the gradients are replaced by the sums in place."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])                     # (sum of the parameters' sizes,)
    totals = torch.tensor(stats, dtype=torch.float64, device=flat.device)
    work = dist.all_reduce(flat, async_op=True)
    dist.all_reduce(totals)
    work.wait()
    start = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[start: start + n].view_as(p)
        start += n
    return totals.tolist()


def _row_bounds(rows: int, world: int) -> np.ndarray:
    """Where each rank's rows of a ``rows``-row batch start and end (as ``trainer.split_batch`` cuts it)."""
    return np.linspace(0, rows, world + 1).round().astype(int)


@_collective
def gather_rows(tensors: list | None, rows: int, group: Group | None) -> list | None:
    """Every rank's ``tensors`` (its rows of a carried state, each ``(rows_r, ...)``) joined along the rows, on
    every rank, as CPU tensors ``(rows, ...)``; one process: the tensors themselves."""
    if tensors is None:
        return None
    if group is None:
        return [t.detach().cpu().clone() for t in tensors]
    counts = np.diff(_row_bounds(rows, group.world))
    most = int(counts.max())
    out = []
    for t in tensors:
        padded = torch.zeros((most, *t.shape[1:]), dtype=t.dtype, device=t.device)
        padded[: t.shape[0]] = t.detach()
        parts = [torch.empty_like(padded) for _ in range(group.world)]
        dist.all_gather(parts, padded)
        out.append(torch.cat([p[:n] for p, n in zip(parts, counts)]).cpu())
    return out


def rows_of(tensors: list, group: Group | None) -> list:
    """This rank's rows of a carried state ``(rows, ...)`` saved whole (any number of ranks may resume it)."""
    if group is None:
        return tensors
    bounds = _row_bounds(tensors[0].shape[0], group.world)
    return [t[bounds[group.rank]: bounds[group.rank + 1]] for t in tensors]


def step_seed(seed: int, rank: int, step: int) -> int:
    """A seed for rank ``rank``'s optimizer step ``step``: under torchrun each step's random draws (dropout)
    are seeded by (seed, rank, step), so the ranks draw differently and a resumed training draws as before,
    without saving every rank's generators."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, dtype=np.uint64)[0] >> 1)


def agree(error: BaseException | None) -> None:
    """Rank 0 tells the others whether what only it does (claiming the run folder, reading the checkpoint)
    worked; where it did not, every rank raises the same one-line ``ValueError`` (rank 0 re-raises its own)."""
    global _AGREED
    message = broadcast_json(None if error is None else f"{error}")
    if message is not None:
        _AGREED = True
        if dist.get_rank() != 0:
            raise ValueError(message)


@_collective
def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is set on any rank (a signal one rank caught stops every rank at the same step)."""
    t = torch.tensor([float(flag)], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return bool(t.item() > 0)


@_collective
@contextlib.contextmanager
def rank0_first(group: Group | None):
    """A block that only rank 0 really does (claiming the run folder, reading its checkpoint): then every rank
    learns whether it worked (:func:`agree`), so all fail alike or go on together. No-op for one process."""
    try:
        yield
    except BaseException as exc:
        if group is not None:
            agree(exc)
        raise
    if group is not None:
        agree(None)


def barrier() -> None:
    dist.barrier()


def settle() -> None:
    """Where every rank failed alike (:func:`agree`), wait for the others once this rank has said its error, then
    end the group: the first rank to exit makes torchrun stop the rest, so without this a slow rank could be
    stopped before it says the line. A no-op otherwise (a rank that failed alone must not wait for the others)."""
    global _AGREED
    if _AGREED and _OWNED and dist.is_available() and dist.is_initialized():
        _AGREED = False
        with contextlib.suppress(RuntimeError):
            dist.barrier()
    close()


def close() -> None:
    """End the process group :func:`setup` made (one made by the caller is left to it); then a later
    :func:`setup` makes a new one."""
    global _OWNED
    if _OWNED and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _OWNED = False


# a gloo group left to the interpreter's exit can abort the process ("terminate called without an active exception":
# its threads outlive Python), so every exit path ends the group setup() made while Python still runs
atexit.register(close)


def backend() -> str:
    return dist.get_backend() if dist.is_available() and dist.is_initialized() else "none"

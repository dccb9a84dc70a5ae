"""DDP from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK); a plain process otherwise.

Every collective a run makes is here: a sum of training counters, the gather of per-session
evaluation outputs (validation, test and robustness are sharded over ranks, so no rank idles
while another scores a whole split), and the broadcast of rank 0's early-stopping decision. The
one wait that is not symmetric is rank 0 building the frame cache (pixel configs below 224 px)
before the others read it, so the process group's timeout is set here, not left to the backend
default (10 min for NCCL): `EDU_DIST_TIMEOUT_S`, default 2 hours.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

T = TypeVar("T")
TIMEOUT_ENV = "EDU_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 2 * 3600


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @classmethod
    def single(cls, device: torch.device | str = "cpu") -> DistContext:
        """A plain process: every collective is the identity."""
        return cls(0, 1, 0, torch.device(device))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks (identity without DDP)."""
        if not self.enabled:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, value: T) -> list[T] | None:
        """Every rank's `value`, in rank order, on rank 0 (None on the others); [value] without DDP."""
        if not self.enabled:
            return [value]
        out: list[Any] | None = [None] * self.world_size if self.is_main else None
        dist.gather_object(value, out, dst=0)
        return out

    def broadcast(self, value: T) -> T:
        """Rank 0's `value` on every rank (what the others pass is ignored)."""
        if not self.enabled:
            return value
        box: list[Any] = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]  # type: ignore[no-any-return]


class ShardSampler(Sampler[int]):
    """Indices rank, rank + W, rank + 2W, ... of a dataset, in order and without padding.

    DistributedSampler pads the split to a multiple of the world size by repeating sessions,
    which would count them twice in the metrics; here every session is scored exactly once and
    `order(rank)` tells where each rank's outputs go when they are gathered.
    """

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.length, self.rank, self.world_size = length, rank, world_size

    def order(self, rank: int) -> range:
        return range(rank, self.length, self.world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order(self.rank))

    def __len__(self) -> int:
        return len(self.order(self.rank))


def per_rank_batch(batch_size: int, world_size: int) -> int:
    """Sessions per rank and step, so that one optimizer step sees exactly `train.batch_size`."""
    if batch_size % world_size:
        raise ValueError(
            f"train.batch_size ({batch_size}) is not divisible by the world size ({world_size}): each optimizer "
            f"step must see exactly train.batch_size sessions; choose a batch size that is a multiple of {world_size} "
            f"or run on a number of processes that divides {batch_size}"
        )
    return batch_size // world_size


def dist_timeout() -> timedelta:
    raw = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if seconds <= 0:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} must be positive")
    return timedelta(seconds=seconds)


def setup_distributed(device: str) -> DistContext:
    """Pick the device and join the process group when WORLD_SIZE > 1 (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("train.device=cuda but CUDA is not available")
    target = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(target)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world, timeout=dist_timeout())
    return DistContext(rank, world, local, target)


def teardown_distributed(context: DistContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def teardown_distributed_if_initialized() -> None:
    """Destroy the default process group if one is still up (idempotent; for `finally` blocks)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

"""The project's one causal attention, serving whole sequences and streamed steps with the same code.

Every attention over time in the models (the modality encoders' self-attention, CMAA, the
baselines' step Transformers and crossmodal blocks) is written once here, on
`F.scaled_dot_product_attention`. A call receives the new elements and, optionally, the
`StreamState` the earlier calls left: with no state the call is a whole sequence (training,
evaluation); with a state it is the next chunk of a stream, whose keys and values join those kept
from the earlier chunks. The whole-sequence forward is literally a stream of one chunk into an empty
cache, so the two cannot drift apart (torchaudio's Emformer shares `forward` and `infer` the same way;
the state is one slot per module, as fairseq's `incremental_state`).

Visibility. Query i sees key j when j comes no later than i in the sequence's order, j is valid,
and, with a window W, when clock(i) - clock(j) < W; a self-attention query always sees itself (so a
row whose whole prefix is missing stays defined, and is dropped later by its mask); a cross-
attention has a learned null key instead. A clock is non-decreasing along the sequence (seconds, or
step indices on the step grid), so a key that falls out of the window of the newest query is out of
every later query's window too: the cache drops it, and a streamed step costs the same at step 120
as at step 20 (`model.attention_window_s`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

T = TypeVar("T")


class StreamState:
    """What a model's modules carry from one streamed step to the next: one slot per module.

    A module asks for its own slot (`slot(self, make)`), so it must be called once per step: a module
    applied to several inputs (one recurrent encoder shared by the modalities) gives each its own
    `scope`. Whole-sequence calls pass no state at all.
    """

    def __init__(self) -> None:
        self._slots: dict[Any, Any] = {}

    def slot(self, module: nn.Module, make: Callable[[], T]) -> T:
        key = id(module)
        if key not in self._slots:
            self._slots[key] = make()
        return self._slots[key]  # type: ignore[no-any-return]

    def slots(self) -> list[Any]:
        """Every slot, those of the scopes included (tests and benchmarks look at what a stream keeps)."""
        out: list[Any] = []
        for value in self._slots.values():
            out.extend(value.slots() if isinstance(value, StreamState) else [value])
        return out

    def scope(self, name: str) -> StreamState:
        """A child state for one of several inputs that share the same modules."""
        key = ("scope", name)
        if key not in self._slots:
            self._slots[key] = StreamState()
        return self._slots[key]  # type: ignore[no-any-return]


def slot_of(state: StreamState | None, module: nn.Module, make: Callable[[], T]) -> T:
    """The module's slot in `state`, or a fresh one for a whole-sequence call (no state)."""
    return make() if state is None else state.slot(module, make)


@dataclass
class Counter:
    """How many elements a module has consumed (where the next chunk's positions start)."""

    seen: int = 0

    def advance(self, n: int) -> int:
        first, self.seen = self.seen, self.seen + n
        return first


def consumed(state: StreamState | None, module: nn.Module, n: int) -> int:
    """The position of the first of `n` new elements of `module`'s sequence (0 for a whole sequence)."""
    return slot_of(state, module, Counter).advance(n)


def step_clock(first: int, n: int, device: torch.device) -> torch.Tensor:
    """(n,) the step-grid clock of steps first..first+n-1: the step index itself."""
    return torch.arange(first, first + n, device=device, dtype=torch.float32)


def running_clock(times: torch.Tensor, valid: torch.Tensor, last: torch.Tensor | None) -> torch.Tensor:
    """(B, n) each element's clock: the latest valid time up to it (-inf before any), after `last` (B,).

    Times of valid elements are normally increasing already; the running maximum makes the clock
    non-decreasing whatever the data, which is what lets a stream drop old keys safely.
    """
    stamped = torch.where(valid, times.float(), torch.full_like(times, float("-inf"), dtype=torch.float32))
    if last is not None:
        stamped = torch.cat([last[:, None], stamped], dim=1)
    clock = torch.cummax(stamped, dim=1).values
    return clock[:, 1:] if last is not None else clock


class Rows:
    """A tensor that grows by appends along `dim` and drops its oldest rows, copying only the new ones.

    The first append is held as given (a whole-sequence call copies nothing). Later, capacity is kept
    at about twice what is held: when an append does not fit, the kept rows move to the front of a
    new buffer once, so appending n rows costs O(n) amortised however long the stream (a `torch.cat`
    per step would copy the whole window every step).
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.data: torch.Tensor | None = None
        self.start = 0
        self.end = 0

    def __len__(self) -> int:
        return self.end - self.start

    def append(self, x: torch.Tensor) -> torch.Tensor:
        """Append `x` and return every kept row (a view)."""
        n = x.shape[self.dim]
        if self.data is None:  # the first append is held as it is: a whole-sequence call copies nothing
            self.data, self.start, self.end = x, 0, n
            return x
        if self.end + n > self.data.shape[self.dim]:
            kept = len(self)
            shape = list(x.shape)
            shape[self.dim] = max(64, 2 * (kept + n))
            grown = x.new_empty(shape)
            if kept:
                grown.narrow(self.dim, 0, kept).copy_(self.view())
            self.data, self.start, self.end = grown, 0, kept
        self.data.narrow(self.dim, self.end, n).copy_(x)
        self.end += n
        return self.view()

    def view(self) -> torch.Tensor:
        if self.data is None:
            raise RuntimeError("Rows.view before any append")
        return self.data.narrow(self.dim, self.start, len(self))

    def drop(self, n: int) -> None:
        """Forget the `n` oldest rows."""
        self.start += n


class KeyValueCache:
    """The keys a causal attention may still show a later query: per layer their keys/values
    (B, heads, L, d/heads), and, shared by the layers, their positions (L,), validity and clock (B, L).

    A whole-sequence call fills a fresh cache once; a stream keeps it between steps and drops the
    keys that fell out of the window (`evict`).
    """

    def __init__(self) -> None:
        self.keys: list[Rows] = []
        self.values: list[Rows] = []
        self.positions = Rows(0)
        self.valid = Rows(1)
        self.clock = Rows(1)
        self.seen = 0

    def extend(self, valid: torch.Tensor, clock: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Admit n new positions: (their positions (n,), all kept positions (L,), validity and clock (B, L))."""
        n = valid.shape[1]
        new = torch.arange(self.seen, self.seen + n, device=valid.device)
        self.seen += n
        return new, self.positions.append(new), self.valid.append(valid), self.clock.append(clock)

    def layer(self, index: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer `index`'s keys and values of every kept position, the new ones appended."""
        while len(self.keys) <= index:
            self.keys.append(Rows(2))
            self.values.append(Rows(2))
        return self.keys[index].append(keys), self.values[index].append(values)

    def evict(self, window: float | None) -> None:
        """Drop the oldest keys that no later query can see: clock <= the newest clock - window, in every row."""
        if window is None or len(self.clock) == 0:
            return
        clock = self.clock.view()
        stale = clock <= (clock[:, -1:] - window)
        drop = int(stale.all(dim=0).long().cumprod(0).sum())  # the leading positions stale in every row
        if drop:
            for rows in (self.positions, self.valid, self.clock, *self.keys, *self.values):
                rows.drop(drop)


def visibility(
    query_positions: torch.Tensor,
    query_clock: torch.Tensor,
    key_positions: torch.Tensor,
    key_valid: torch.Tensor,
    key_clock: torch.Tensor,
    window: float | None,
    *,
    sees_itself: bool,
) -> torch.Tensor:
    """(B, 1, Lq, Lk) bool, True = may attend: earlier-or-same valid keys inside the window (and itself)."""
    allowed = (key_positions[None, None, :] <= query_positions[None, :, None]) & key_valid[:, None, :]
    if window is not None:
        allowed = allowed & ((query_clock[:, :, None] - key_clock[:, None, :]) < window)
    if sees_itself:
        allowed = allowed | (key_positions[None, None, :] == query_positions[None, :, None])
    return allowed[:, None]


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, dim = x.shape
    return x.view(batch, length, heads, dim // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    batch, heads, length, dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * dim)


class AttentionBlock(nn.Module):
    """Pre-norm Transformer block: x + Attn(LN(x)), then x + FF(LN(x)) (GELU, `ff_mult` x d wide)."""

    def __init__(self, d_model: int, heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm_attention = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_model * ff_mult), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_model * ff_mult, d_model))
        self.dropout = nn.Dropout(dropout)
        self.attention_dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: KeyValueCache, index: int) -> torch.Tensor:
        """`x` (B, n, d): the new positions; `mask` (B, 1, n, L) over the kept ones; layer `index` of `cache`."""
        query, key, value = self.qkv(self.norm_attention(x)).chunk(3, dim=-1)
        keys, values = cache.layer(index, split_heads(key, self.heads), split_heads(value, self.heads))
        attended = F.scaled_dot_product_attention(
            split_heads(query, self.heads), keys, values, attn_mask=mask,
            dropout_p=self.attention_dropout if self.training else 0.0,
        )
        x = x + self.dropout(self.out(merge_heads(attended)))
        return x + self.dropout(self.ff(self.norm_ff(x)))


class CausalTransformer(nn.Module):
    """Pre-norm causal self-attention layers and a final LayerNorm, optionally windowed.

    `clock` (B, n) is each element's non-decreasing time in the unit of `window` (None: the
    element's position, for sequences on the step grid).
    """

    def __init__(self, d_model: int, layers: int, heads: int, ff_mult: int, dropout: float, window: float | None = None) -> None:
        super().__init__()
        self.window = window
        self.layers = nn.ModuleList(AttentionBlock(d_model, heads, ff_mult, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, x: torch.Tensor, valid: torch.Tensor, clock: torch.Tensor | None = None, state: StreamState | None = None
    ) -> torch.Tensor:
        cache = slot_of(state, self, KeyValueCache)
        if clock is None:
            clock = step_clock(cache.seen, x.shape[1], x.device)[None].expand(x.shape[0], -1)
        new, positions, key_valid, key_clock = cache.extend(valid, clock)
        mask = visibility(new, clock, positions, key_valid, key_clock, self.window, sees_itself=True)
        for index, layer in enumerate(self.layers):
            x = layer(x, mask, cache, index)
        cache.evict(self.window)
        return self.norm(x)


class CausalCrossAttention(nn.Module):
    """Multi-head attention of target steps over the causal, masked (and windowed) prefix of a source
    on the same step grid, plus a learned null key/value that is always visible."""

    def __init__(self, d_model: int, heads: int, dropout: float, window: float | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.null_key = nn.Parameter(torch.zeros(1, 1, d_model))
        self.null_value = nn.Parameter(torch.zeros(1, 1, d_model))
        self.dropout = dropout

    def forward(
        self, target: torch.Tensor, source: torch.Tensor, source_valid: torch.Tensor, state: StreamState | None = None
    ) -> torch.Tensor:
        """`target`, `source` (B, n, d) and `source_valid` (B, n): the same n new steps of both."""
        batch, steps = source_valid.shape
        cache = slot_of(state, self, KeyValueCache)
        clock = step_clock(cache.seen, steps, source.device)[None].expand(batch, -1)
        new, positions, key_valid, key_clock = cache.extend(source_valid, clock)
        keys, values = cache.layer(0, split_heads(self.key(source), self.heads), split_heads(self.value(source), self.heads))
        null_k = split_heads(self.null_key.expand(batch, -1, -1).to(keys.dtype), self.heads)
        null_v = split_heads(self.null_value.expand(batch, -1, -1).to(values.dtype), self.heads)
        visible = visibility(new, clock, positions, key_valid, key_clock, self.window, sees_itself=False)
        null = torch.ones(batch, 1, steps, 1, dtype=torch.bool, device=visible.device)
        # The paper writes a softmax over the single key of step t, which is degenerate (its weight
        # is always 1, so "attention" would be a plain linear map). We attend over the causal
        # prefix s <= t of the source instead, plus the null key so a fully masked row is defined.
        attended = F.scaled_dot_product_attention(
            split_heads(self.query(target), self.heads),
            torch.cat([null_k, keys], dim=2),
            torch.cat([null_v, values], dim=2),
            attn_mask=torch.cat([null, visible], dim=3),
            dropout_p=self.dropout if self.training else 0.0,
        )
        cache.evict(self.window)
        return self.out(merge_heads(attended))


class CausalConv1d(nn.Conv1d):
    """A strided convolution that only looks back: output p sees inputs p*stride-(kernel-1) .. p*stride.

    Whole sequences are left-padded with kernel-1 zeros; a stream keeps the inputs later outputs still
    need and emits output p as soon as its newest input p*stride has arrived, exactly where the
    padded whole-sequence convolution places it.
    """

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:  # type: ignore[override]
        """`x` (B, C, n) the new inputs -> (B, C_out, m) the outputs they complete."""
        (kernel,), (stride,) = self.kernel_size, self.stride
        pending = slot_of(state, self, lambda: _ConvPending(x.new_zeros(x.shape[0], self.in_channels, kernel - 1), -(kernel - 1)))
        return pending.push(self, x, kernel, stride)


@dataclass
class _ConvPending:
    """Inputs from absolute index `start` on that later outputs still need; counts received and emitted."""

    inputs: torch.Tensor  # (B, C, M)
    start: int
    received: int = 0
    emitted: int = 0

    def push(self, conv: nn.Conv1d, x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
        self.inputs = torch.cat([self.inputs, x.to(self.inputs.dtype)], dim=2)
        self.received += x.shape[2]
        last = (self.received - 1) // stride
        if last < self.emitted:
            return x.new_zeros(x.shape[0], conv.out_channels, 0)
        begin = self.emitted * stride - (kernel - 1) - self.start
        out = conv._conv_forward(self.inputs[..., begin : last * stride + 1 - self.start], conv.weight, conv.bias)
        self.emitted = last + 1
        keep = min(self.emitted * stride - (kernel - 1) - self.start, self.inputs.shape[2])
        self.inputs = self.inputs[..., keep:]
        self.start += keep
        return out

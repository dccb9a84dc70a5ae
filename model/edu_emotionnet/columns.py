"""Rows of a memory-mapped Arrow table, taken a batch at a time as numpy arrays, one per column.

`datasets` gives a row at a time: its lookup slices the table once per row (re-creating each
extension type from its JSON on every slice) and its torch formatter converts each row's columns
one by one, which cost 16x the Arrow read of the same columns. Here each column of the table is
seen once, per process, as the numpy values of each of its chunks (views of the memory map, no
copy) with each row's bounds in them; a batch of any rows is then each column's rows copied once
into one array padded to the batch's longest, converted to its dtype on the way.

The values equal what `datasets`' torch formatter gives for each row: integers as int64, floats as
float32 (float16 kept where asked: the frame embeddings, which the formatter would widen only for
the loader to narrow them again), a sequence 1-d, a sequence of sequences (an `Array2D`) 2-d.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


def _is_list(kind: pa.DataType) -> bool:
    return bool(pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind))


def _list_bounds(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """A list array's per-row bounds in its values (first 0, last the values' length) and those values."""
    if pa.types.is_fixed_size_list(array.type):
        size = array.type.list_size
        return np.arange(len(array) + 1) * size, array.values.slice(array.offset * size, len(array) * size)
    offsets = array.offsets.to_numpy()  # `.values` ignores a slice's offset; `.offsets` does not
    return offsets - offsets[0], array.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def formatter_dtype(dtype: np.dtype, keep_float16: bool = False) -> np.dtype:
    """The dtype `datasets`' torch formatter gives values of `dtype`: integers int64, floats float32."""
    if np.issubdtype(dtype, np.integer):
        return np.dtype(np.int64)
    if np.issubdtype(dtype, np.floating) and not (keep_float16 and dtype == np.float16):
        return np.dtype(np.float32)
    return np.dtype(dtype)


@dataclass(frozen=True)
class ColumnChunk:
    """One chunk of a numeric column: its values and, for a list column, each row's bounds in them."""

    values: np.ndarray  # the leaf values (a view of the memory map where Arrow allows)
    bounds: np.ndarray | None  # (rows + 1,) offsets into `values`; None for a scalar column
    lengths: np.ndarray | None  # (rows,) first-dimension length of each row of a 2-d column
    width: int  # second dimension of a 2-d column (declared, else seen; 0 if neither), else 1

    @classmethod
    def of(cls, array: pa.Array) -> ColumnChunk:
        declared = getattr(array.type, "shape", None)  # an Array2D's (None or rows, width)
        if isinstance(array, pa.ExtensionArray):  # `datasets`' Array2D: nested lists underneath
            array = array.storage
        if not _is_list(array.type):
            return cls(array.to_numpy(zero_copy_only=False), None, None, 1)
        bounds, values = _list_bounds(array)
        lengths, width = None, 1
        if _is_list(values.type):
            inner, values = _list_bounds(values)
            sizes = np.diff(inner)
            width = int(declared[-1]) if declared and declared[-1] is not None else int(sizes[0]) if len(sizes) else 0
            lengths, bounds = np.diff(bounds), inner[bounds]
        return cls(values.to_numpy(zero_copy_only=False), bounds, lengths, width)


@dataclass(frozen=True)
class TakenColumn:
    """One column of a batch of rows: scalars (B,), or each row's values padded with zeros to the
    batch's longest (at least 1), (B, longest) or (B, longest, width), with each row's length."""

    values: np.ndarray
    lengths: np.ndarray | None  # (B,) elements per row; None for a scalar column

    def row(self, k: int) -> np.ndarray:
        """Row `k` as `datasets`' torch formatter shapes it (a view)."""
        return self.values[k, ...] if self.lengths is None else self.values[k, : self.lengths[k]]


class ArrowRows:
    """The numeric columns of `table` (a memory-mapped `datasets` table), read by batches of rows."""

    def __init__(self, table: pa.Table, columns: Collection[str]) -> None:
        self.starts = np.cumsum([0, *(len(b) for b in table.to_batches())])
        self.chunks = {
            name: [ColumnChunk.of(chunk) for chunk in table.column(name).chunks] for name in columns
        }

    def take(self, rows: Sequence[int], keep_float16: Collection[str] = ()) -> dict[str, TakenColumn]:
        """column -> the rows `rows` (in that order), copied once from the memory map, dtypes as
        `formatter_dtype`."""
        where = np.asarray(rows, dtype=np.int64)
        chunk_of = np.searchsorted(self.starts, where, side="right") - 1
        local = where - self.starts[chunk_of]
        return {name: self._column(chunks, chunk_of, local, name in keep_float16) for name, chunks in self.chunks.items()}

    @staticmethod
    def _column(chunks: list[ColumnChunk], chunk_of: np.ndarray, local: np.ndarray, keep_float16: bool) -> TakenColumn:
        dtype = formatter_dtype(chunks[0].values.dtype, keep_float16)
        picked = list(zip(chunk_of.tolist(), local.tolist(), strict=True))
        if chunks[0].bounds is None:
            return TakenColumn(np.array([chunks[c].values[r] for c, r in picked], dtype=dtype), None)
        nested = chunks[0].lengths is not None
        lengths = np.array(
            [chunks[c].lengths[r] if nested else chunks[c].bounds[r + 1] - chunks[c].bounds[r] for c, r in picked],  # type: ignore[index]
            dtype=np.int64,
        )
        inner = (max(chunk.width for chunk in chunks),) if nested else ()
        out = np.empty((len(picked), max(1, int(lengths.max(initial=0))), *inner), dtype=dtype)
        for k, (c, r) in enumerate(picked):  # one copy per row, converted on the way; then the padding
            chunk, n = chunks[c], int(lengths[k])
            out[k, :n] = chunk.values[chunk.bounds[r] : chunk.bounds[r + 1]].reshape(n, *inner)  # type: ignore[index]
            out[k, n:] = 0
        return TakenColumn(out, lengths)

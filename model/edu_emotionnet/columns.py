"""Rows of a memory-mapped Arrow table, taken a batch at a time as numpy arrays, one per column.

`datasets` gives a row at a time: its lookup slices the table once per row (re-creating each
extension type from its JSON on every slice) and its torch formatter converts each row's columns
one by one, which cost 16x the Arrow read of the same columns. Here each column of the table is
seen once, per process, as the numpy values of each of its chunks (views of the memory map, no
copy) with each row's bounds in them; a batch of any rows is then one `np.concatenate` of their
slices per column, converted to its dtype in the same pass, and cut into per-row views.

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

    @classmethod
    def of(cls, array: pa.Array) -> ColumnChunk:
        if isinstance(array, pa.ExtensionArray):  # `datasets`' Array2D: nested lists underneath
            array = array.storage
        if not _is_list(array.type):
            return cls(array.to_numpy(zero_copy_only=False), None, None)
        bounds, values = _list_bounds(array)
        lengths = None
        if _is_list(values.type):
            inner, values = _list_bounds(values)
            lengths, bounds = np.diff(bounds), inner[bounds]
        return cls(values.to_numpy(zero_copy_only=False), bounds, lengths)


class ArrowRows:
    """The numeric columns of `table` (a memory-mapped `datasets` table), read by batches of rows."""

    def __init__(self, table: pa.Table, columns: Collection[str]) -> None:
        self.starts = np.cumsum([0, *(len(b) for b in table.to_batches())])
        self.chunks = {
            name: [ColumnChunk.of(chunk) for chunk in table.column(name).chunks] for name in columns
        }

    def take(self, rows: Sequence[int], keep_float16: Collection[str] = ()) -> dict[str, list[np.ndarray]]:
        """column -> one fresh array per row of `rows` (in that order), dtypes as `formatter_dtype`."""
        where = np.asarray(rows, dtype=np.int64)
        chunk_of = np.searchsorted(self.starts, where, side="right") - 1
        local = where - self.starts[chunk_of]
        return {name: self._column(chunks, chunk_of, local, name in keep_float16) for name, chunks in self.chunks.items()}

    @staticmethod
    def _column(chunks: list[ColumnChunk], chunk_of: np.ndarray, local: np.ndarray, keep_float16: bool) -> list[np.ndarray]:
        dtype = formatter_dtype(chunks[0].values.dtype, keep_float16)
        if chunks[0].bounds is None:
            scalars = np.array([chunks[c].values[r] for c, r in zip(chunk_of, local, strict=True)], dtype=dtype)
            return [scalars[k, ...] for k in range(len(scalars))]
        parts = [chunks[c].values[chunks[c].bounds[r] : chunks[c].bounds[r + 1]] for c, r in zip(chunk_of, local, strict=True)]
        flat = np.concatenate(parts, dtype=dtype) if parts else np.empty(0, dtype)
        cut = np.split(flat, np.cumsum([len(p) for p in parts])[:-1])
        if chunks[0].lengths is None:
            return cut
        lengths = [int(chunks[c].lengths[r]) for c, r in zip(chunk_of, local, strict=True)]  # type: ignore[index]
        total = sum(lengths)
        if not total:  # no element in the whole batch, so no width to give them
            return cut
        width = len(flat) // total
        return [part.reshape(n, width) for part, n in zip(cut, lengths, strict=True)]

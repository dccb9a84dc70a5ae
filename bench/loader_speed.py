"""The trainer's loader against the memory-mapped Arrow floor, on the same columns, in one run.

    .venv/bin/python bench/loader_speed.py [--data DATASET] [--sessions 128] [--session-s 20] \\
        [--batch-size 32] [--rounds 5]

Without `--data` it plants a dataset in the published schema (`tests/model/planted.py`: MFCC 40 x
10 ms, frame embeddings 1280 float16 at 15 fps, 128 float16 tokens x 32) in a temporary folder.
Timed, interleaved round by round (medians; the first round of each is a warm-up, so the files are in
the page cache for all):

- `loader`: one epoch of the training split through a DataLoader over `SessionDataset` (batch reads
  from Arrow, `collate`; num_workers 0, shuffled), video input `embeddings`, all three modalities;
- `per-row`: the same batches built row by row through `datasets`' `with_format("torch")` and
  `collate` (how the loader read before issue 24: `tests/model/test_data_columnar.py`'s reference),
  for context;
- `floor`: the same columns read with pyarrow from `datasets`' memory-mapped Arrow cache files and
  turned into numpy arrays (every list column flattened to its values, copied so the pages are
  read), the whole split at once: no batching, no shuffling, no padding.

Prints the three times and `loader / floor` as a speed ratio (floor time / loader time; issue 24's
target >= 0.5).

Measured 2026-12-06 at branch i24-floors on the shared 2-core development machine (load average
3.6 from other engineers' jobs), `.venv/bin/python bench/loader_speed.py --rounds 9`, three runs
(128 sessions, 102 MiB): loader / floor 0.753x, 0.866x, 0.705x (loader 27.7-29.8 ms, floor
19.5-25.0 ms per epoch); per-row / floor 0.088-0.114x. Runs while another job of this session
loaded the machine spread from 0.37x to 1.01x: read the three-run figure, and re-run it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]


def plant(out: Path, sessions: int, session_s: float) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.model.planted import write_planted_dataset

    return write_planted_dataset(
        out, {"train": sessions, "validation": 4, "test": 4}, duration_s=(session_s * 0.5, session_s),
        fps=15.0, frames=False, rows_per_group=16,
    )


def leaves(array: pa.Array) -> np.ndarray:
    """A column's values as one numpy array (lists flattened to their values), copied."""
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    while pa.types.is_list(array.type) or pa.types.is_fixed_size_list(array.type) or pa.types.is_large_list(array.type):
        array = array.flatten()
    return np.array(array.to_numpy(zero_copy_only=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a published dataset folder (default: plant one)")
    parser.add_argument("--sessions", type=int, default=128)
    parser.add_argument("--session-s", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import torch
    from edu_emotionnet.config import ModelConfig, VideoEncoderConfig
    from edu_emotionnet.data import collate, session_datasets
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or plant(Path(tmp) / "dataset", args.sessions, args.session_s)
        model = ModelConfig(video=VideoEncoderConfig(input="embeddings"))
        train = session_datasets(data, model, None, modalities=("audio", "video", "text"))[0]["train"]
        columns = train.rows.column_names
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).tolist()
        batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
        files = [f["filename"] for f in train.rows.cache_files]

        def loader() -> None:
            for _ in DataLoader(train, batch_size=args.batch_size, sampler=order, collate_fn=collate):
                pass

        sys.path.insert(0, str(ROOT))
        from tests.model.test_data_columnar import per_row_items

        def row_by_row() -> None:
            for indices in batches:
                collate(per_row_items(train, indices))

        def floor() -> None:
            for name in files:
                with pa.memory_map(name) as source:
                    table = pa.ipc.open_stream(source).read_all().select(columns)
                    for column in table.columns:
                        leaves(column.combine_chunks())

        runs: dict[str, Callable[[], None]] = {"loader": loader, "per-row": row_by_row, "floor": floor}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for round_ in range(args.rounds + 1):
            names = list(runs) if round_ % 2 == 0 else list(runs)[::-1]
            for name in names:
                started = time.perf_counter()
                runs[name]()
                if round_:  # round 0 warms the page cache and the imports
                    times[name].append(time.perf_counter() - started)
        median = {name: statistics.median(t) for name, t in times.items()}
        megabytes = sum(leaves(c.combine_chunks()).nbytes for c in train.rows.data.table.select(
            [c for c in columns if c != "session_id"]).columns) / 2**20
        print(f"{len(train)} training sessions, {megabytes:.0f} MiB of column values, batch {args.batch_size}, "
              f"{args.rounds} interleaved rounds (medians)")
        for name in runs:
            print(f"{name:8} {median[name] * 1e3:9.1f} ms  {len(train) / median[name]:9.0f} sessions/s")
        print(f"loader / floor: {median['floor'] / median['loader']:.3f}x (target >= 0.5); "
              f"per-row / floor: {median['floor'] / median['per-row']:.3f}x")


if __name__ == "__main__":
    main()

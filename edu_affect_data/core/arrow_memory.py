"""Which allocator Arrow uses in an `edu-data` process: jemalloc on Linux, unless the user named one.

A build's stages run one after another in one process, each reading and writing Arrow data far
larger than what it keeps. pyarrow's default pool in the Linux wheels (mimalloc) keeps the pages
it freed for reuse, so a stage's peak memory grew with the corpus even where the stage streams by
row groups: at the `paper-shape-lite` bench size the publish stage's process peaked at 755 MB
against 519 MB at `demo` (1.46x), with the same code and one row group at a time. jemalloc, as
pyarrow configures it, hands freed pages back after its decay time: 489 against 414 MB (1.18x);
the system allocator 557 against 446 MB (1.25x). (`bench/RESULTS.md`, "Arrow's allocator".)

Arrow reads `ARROW_DEFAULT_MEMORY_POOL` once, when pyarrow is loaded, and its C++ side (Parquet
decoding, compute kernels) allocates from that pool whatever `pyarrow.set_memory_pool` says later
(measured: switching there only took publish at `demo` from 519 to 479 MB). So the choice is made
where a process starts, before anything imports pyarrow: the `edu-data` command's callback, and
the bench's job runner for the stage jobs it starts. The variable is inherited by the pool's
workers. A value the user set is left as it is; on platforms other than Linux (where pyarrow's
wheels may lack jemalloc, and it was not measured) Arrow's own default stays.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

#: Arrow's own environment variable (read once, when pyarrow loads).
POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"

#: The allocator an `edu-data` process asks Arrow for, by `sys.platform`.
POOL_BY_PLATFORM: Mapping[str, str] = {"linux": "jemalloc"}


def arrow_pool_environment(environ: Mapping[str, str], platform: str) -> dict[str, str]:
    """The variables to add to `environ` so Arrow loads with the project's allocator ({} if none)."""
    if POOL_VARIABLE in environ or platform not in POOL_BY_PLATFORM:
        return {}
    return {POOL_VARIABLE: POOL_BY_PLATFORM[platform]}


def choose_arrow_pool() -> None:
    """Name the allocator for this process and its children, if pyarrow has not been loaded yet.

    Where pyarrow is already loaded (the CLI called from a Python session or a test), its pool is
    fixed: nothing is changed, so a child process behaves as its parent does.
    """
    if "pyarrow" not in sys.modules:
        os.environ.update(arrow_pool_environment(os.environ, sys.platform))

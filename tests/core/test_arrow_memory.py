"""Arrow's allocator in an `edu-data` process: jemalloc on Linux, the user's choice kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from edu_affect_data.core.arrow_memory import POOL_VARIABLE, arrow_pool_environment

#: A fresh interpreter that runs an `edu-data` command as the console script does, then says
#: which pool Arrow loaded with.
PROBE = """
import sys
from edu_affect_data.cli import app
try:
    app(["version"])
except SystemExit:
    pass
import pyarrow
print(pyarrow.default_memory_pool().backend_name)
"""


def test_the_variable_by_platform_and_the_users_choice() -> None:
    assert arrow_pool_environment({}, "linux") == {POOL_VARIABLE: "jemalloc"}
    assert arrow_pool_environment({POOL_VARIABLE: "system"}, "linux") == {}
    assert arrow_pool_environment({}, "darwin") == {}  # not measured there: Arrow's default stays


def _pool_of_a_command(environ: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, check=True)
    return done.stdout.split()[-1]


@pytest.mark.skipif(sys.platform != "linux", reason="the project chooses an allocator on Linux only")
def test_an_edu_data_process_loads_arrow_with_jemalloc() -> None:
    environ = {k: v for k, v in os.environ.items() if k != POOL_VARIABLE}
    assert _pool_of_a_command(environ) == "jemalloc"
    assert _pool_of_a_command({**environ, POOL_VARIABLE: "system"}) == "system"

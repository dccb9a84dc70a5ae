"""Every example of the README and the docs site's pages runs, as a reader would run it (issue 22).

Which fences run. Every ```bash and ```python block runs, and every ```console block (`$ command`
lines, each followed by what it prints); other fences (yaml, text, json, none) are only shown.
HTML comments on the lines right above a fence change that:

    <!-- not run: REASON -->     never run; the reason is required (a 10-minute demo, a cluster)
    <!-- needs: labelstudio -->  the page runs in the `labelstudio` lane only
    <!-- exits N: REASON -->     the block must end with exit status N instead of 0

Where they run. The blocks of one page run in order, in one folder per page that looks like the
repository root after `make demo`: copies of `pipelines/`, `model/configs/`, `scripts/`,
`annotation_guidelines/`, `docs/examples/` and the Makefile, `.venv` (this environment);
`demo-output/corpora` (the synthetic
`tiny` corpora) and `demo-output/build` (a build of `pipelines/demo.yaml` on them, labelled from
the planted truth instead of annotators, as the benches do: `bench/stage_cpu.py`); `HOME` is a
folder of that sandbox whose `corpora/` holds the same corpora, so `~/corpora/IEMOCAP_full_release`
in a page is a real corpus. `edu-data` is the environment's. A page that starts Label Studio gets a
server of its own (`scripts/labelstudio.sh` keeps its state in the sandbox), stopped afterwards.
A bash block runs under `set -euo pipefail`, a python block as a script, each `$` command of a
console block on its own; the output shown under a command must appear in what it printed, line
for line (box-drawing characters and runs of spaces ignored), `...` standing for any lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The README, the docs site's sources and the results file it includes.
PAGES = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "bench" / "RESULTS.md")
RUNS = {"bash", "python", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,})(?P<lang>[\w-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*(?P<key>not run|needs|exits (?P<status>\d+))\s*:\s*(?P<value>.*?)\s*-->\s*$")
#: What a page's sandbox copies from the repository (it never writes into the repository).
COPIED = ("pipelines", "model/configs", "scripts", "annotation_guidelines", "docs/examples", "Makefile")
#: A comment that looks like a marker (`<!-- word words: ... -->`) but is none of the above: a typo.
MARKER_LIKE = re.compile(r"^\s*<!--\s*[a-z][a-z ]*\d*\s*:")
BOX = re.compile(r"[\u2500-\u257f]")
BLOCK_TIMEOUT_S = 900


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    not_run: str | None = None
    needs: set[str] = field(default_factory=set)
    status: int = 0

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO) if self.page.is_relative_to(REPO) else self.page}:{self.line}"


def parse_blocks(page: Path, text: str | None = None) -> list[Block]:
    """The fenced blocks of a Markdown page (`text`, else the file) with the markers right above each."""
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, ticks = opening["indent"], opening["ticks"]
        end = i + 1
        while end < len(lines) and lines[end].strip() != ticks:
            end += 1
        if end == len(lines):
            raise ValueError(f"{page.relative_to(REPO)}:{i + 1}: unclosed fence")
        body = [line.removeprefix(indent) for line in lines[i + 1 : end]]
        block = Block(page, i + 1, opening["lang"], "\n".join(body) + "\n")
        above = i - 1
        while above >= 0 and (marker := MARKER.match(lines[above])):
            if marker["key"] == "not run":
                block.not_run = marker["value"]
            elif marker["key"] == "needs":
                block.needs.add(marker["value"])
            else:
                block.status = int(marker["status"])
            above -= 1
        if above >= 0 and MARKER_LIKE.match(lines[above]):
            raise ValueError(f"{block.where}: unknown marker {lines[above].strip()!r}")
        blocks.append(block)
        i = end + 1
    return blocks


def normalise(line: str) -> str:
    return " ".join(BOX.sub(" ", line).split())


def console_steps(code: str) -> list[tuple[str, list[str]]]:
    """`$ command` lines (a trailing backslash continues one) and the output lines shown under each."""
    steps: list[tuple[str, list[str]]] = []
    lines = code.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"console block: output line before any command: {lines[i]!r}")
        command = lines[i][2:]
        while command.endswith("\\"):
            i += 1
            command = command[:-1] + lines[i]
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        steps.append((command, shown))
    return steps


def output_mismatch(shown: list[str], printed: str) -> str | None:
    """None when `printed` holds the `shown` lines in order (`...` for any lines), else why not."""
    got = [normalise(line) for line in printed.splitlines()]
    position, skip = 0, False
    for line in shown:
        if line.strip() == "...":
            skip = True
            continue
        want = normalise(line)
        if not want:
            continue
        if skip:
            found = next((k for k in range(position, len(got)) if got[k] == want), None)
        else:
            while position < len(got) and not got[position]:
                position += 1
            found = position if position < len(got) and got[position] == want else None
        if found is None:
            return f"expected {'somewhere after' if skip else 'next'}: {want!r}"
        position, skip = found + 1, False
    return None


# ------------------------------------------------------------------------------- the sandbox
BUILD_DEMO_LIKE = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(sys.argv[1]) / "bench"))
    from stage_cpu import bench_stages

    from edu_affect_data.build import run_build
    from edu_affect_data.config import load_config

    corpora, out = Path(sys.argv[2]), Path(sys.argv[3])
    config = load_config(Path(sys.argv[1]) / "pipelines" / "demo.yaml", {
        "corpora.iemocap.root": str(corpora / "IEMOCAP_full_release"),
        "corpora.mosei.root": str(corpora / "CMU_MOSEI"),
        # the tiny corpora's ~40-s recordings in shorter windows, none balanced away: ~30 sessions
        "sessions.min_s": 4.0, "sessions.target_s": 6.0, "sessions.max_s": 8.0,
        "balance.per_class": 1000,
    })
    result = run_build(config, out, stages=bench_stages())
    sys.exit(0 if result.complete else 1)
    """
)


@pytest.fixture(scope="session")
def demo_like_build(tiny_corpora: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`demo-output/build` for the pages: the demo pipeline on the tiny corpora, labels from the truth."""
    # Laid out as in a sandbox (demo-output/corpora beside demo-output/build), so that the build's
    # paths to the corpora stay right in the copy each page gets, whether stored absolute or relative.
    demo = tmp_path_factory.mktemp("doc_build") / "demo-output"
    demo.mkdir()
    (demo / "corpora").symlink_to(tiny_corpora)
    out = demo / "build"
    done = subprocess.run(
        [sys.executable, "-c", BUILD_DEMO_LIKE, str(REPO), str(demo / "corpora"), str(out)],
        capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S, env={**os.environ, **QUIET},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return out


#: Plain output: no progress bars' control codes, one torch thread, no hub.
QUIET = {"TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}


def sandbox(root: Path, corpora: Path, build: Path) -> dict[str, str]:
    """Lay out `root` like the repository after `make demo`; the environment the blocks run in."""
    for name in COPIED:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)
    (root / "demo-output").mkdir()
    (root / "demo-output" / "corpora").symlink_to(corpora)
    shutil.copytree(build, root / "demo-output" / "build", symlinks=True)
    (root / ".venv").symlink_to(sys.prefix)  # `.venv/bin/edu-data` as in a checkout
    home = root / "home"
    home.mkdir()
    (home / "corpora").symlink_to(corpora)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "LS_HOME", "LS_PORT"))}
    env.update(QUIET)
    env.update({
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "COLUMNS": "120",
        "PYTHONUNBUFFERED": "1",
        "LS_VENV": os.environ.get("LS_VENV", str(REPO / ".labelstudio" / "venv")),
    })  # fmt: skip
    return env


def run_block(block: Block, root: Path, env: dict[str, str], index: int) -> None:
    """Run one block in `root`; fail naming the page and line, with what it printed."""
    if block.lang == "console":
        for command, shown in console_steps(block.code):
            done = subprocess.run(["bash", "-c", command], cwd=root, env=env, capture_output=True,
                                  text=True, timeout=BLOCK_TIMEOUT_S)  # fmt: skip
            printed = done.stdout + done.stderr
            assert done.returncode == block.status, f"{block.where}: `{command}` exited {done.returncode}:\n{printed[-4000:]}"
            mismatch = output_mismatch(shown, done.stdout + "\n" + done.stderr)
            assert mismatch is None, f"{block.where}: `{command}` printed something else: {mismatch}\n{printed[-4000:]}"
        return
    script = root / f".block{index:02d}.{'py' if block.lang == 'python' else 'sh'}"
    script.write_text(block.code, encoding="utf-8")
    command = [sys.executable, str(script)] if block.lang == "python" else ["bash", "-euo", "pipefail", str(script)]
    done = subprocess.run(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=BLOCK_TIMEOUT_S)  # fmt: skip
    assert done.returncode == block.status, (
        f"{block.where}: the {block.lang} block exited {done.returncode}, not {block.status}:\n"
        f"{block.code}\n--- output (end) ---\n{done.stdout[-4000:]}"
    )


# ------------------------------------------------------------------------------------- tests
ALL_BLOCKS = [block for page in PAGES for block in parse_blocks(page)]


def test_every_block_that_does_not_run_says_why() -> None:
    skipped = [b for b in ALL_BLOCKS if b.not_run is not None]
    assert all(b.lang in RUNS for b in skipped), [b.where for b in skipped if b.lang not in RUNS]
    assert all(b.not_run for b in skipped), [b.where for b in skipped if not b.not_run]
    assert {need for b in ALL_BLOCKS for need in b.needs} <= {"labelstudio"}
    # A runnable block of every page kind exists: the runner below is not vacuous.
    assert {b.lang for b in ALL_BLOCKS if b.not_run is None and b.lang in RUNS} == RUNS


def test_markers_are_read_and_a_misspelt_one_is_an_error() -> None:
    page = Path("probe.md")
    text = "<!-- needs: labelstudio -->\n<!-- exits 3: waits -->\n```bash\nfalse\n```\n<!-- not run: slow -->\n```python\n```\n"
    first, second = parse_blocks(page, text)
    assert (first.needs, first.status, first.not_run, first.line) == ({"labelstudio"}, 3, None, 3)
    assert (second.lang, second.not_run) == ("python", "slow")
    with pytest.raises(ValueError, match=r"probe\.md:2: unknown marker"):
        parse_blocks(page, "<!-- not rn: typo -->\n```bash\ntrue\n```\n")


def test_console_output_must_match_line_for_line() -> None:
    printed = "title\n┃ a ┃ b ┃\n│ x │ 1 │\n│ y │ 2 │\nnote: done\n"
    assert output_mismatch(["title", "...", "│ y │   2 │"], printed) is None
    assert output_mismatch(["...", "│ x │ 1 │", "│ y │ 2 │"], printed) is None
    assert output_mismatch(["...", "│ y │ 2 │", "│ x │ 1 │"], printed) == "expected next: 'x 1'"
    assert output_mismatch(["│ x │ 1 │"], printed) == "expected next: 'x 1'"
    assert output_mismatch(["...", "│ z │ 1 │"], printed) == "expected somewhere after: 'z 1'"
    steps = console_steps("$ edu-data agreement \\\n  --n-boot 10\nline\n...\n$ true\n")
    assert steps == [("edu-data agreement   --n-boot 10", ["line", "..."]), ("true", [])]


def _page_param(page: Path) -> object:
    blocks = [b for b in parse_blocks(page) if b.lang in RUNS and b.not_run is None]
    marks = [pytest.mark.slow, pytest.mark.timeout(3 * BLOCK_TIMEOUT_S)]
    if any("labelstudio" in b.needs for b in blocks):
        marks.append(pytest.mark.labelstudio)
    return pytest.param(page, marks=marks, id=str(page.relative_to(REPO)))


RUN_PAGES = [
    _page_param(page)
    for page in PAGES
    if any(b.lang in RUNS and b.not_run is None for b in parse_blocks(page))
]


@pytest.mark.parametrize("page", RUN_PAGES)
def test_the_examples_of_a_page_run(
    page: Path, tiny_corpora: Path, demo_like_build: Path, tmp_path: Path
) -> None:
    blocks = [b for b in parse_blocks(page) if b.lang in RUNS and b.not_run is None]
    env = sandbox(tmp_path, tiny_corpora, demo_like_build)
    try:
        for index, block in enumerate(blocks):
            run_block(block, tmp_path, env, index)
    finally:
        if (tmp_path / ".labelstudio" / "server.pid").exists():
            subprocess.run(["bash", "scripts/labelstudio.sh", "stop"], cwd=tmp_path, env=env, check=False)

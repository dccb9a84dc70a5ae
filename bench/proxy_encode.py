"""What the one video pass costs with other proxy encodes: GOP instead of intra-only, a higher crf (by hand).

    .venv/bin/python bench/proxy_encode.py --out /work/bench-scale                  # ~3 min
    .venv/bin/python bench/proxy_encode.py --out /work/bench-scale --variants classify intra gop30 --rounds 5

Issue 24 asks for the one video pass (decode, classify every frame, write the region proxies) at
<= 1.6x the bare decode, and names the routes: a faster x264 preset (the pass already uses
`ultrafast`), a smaller proxy (`bench/proxy_quality.py --heights`), or GOP proxies with seeks "if that
is cheaper overall". This bench measures the production pass (`video_pass.scan_chunk`: ffmpeg and the
Python classifier, CPU of self plus children) on the first `--seconds` of one recording per corpus of
the `resolution` profile (`bench/proxy_quality.py`'s recordings, synthesized once under OUT/corpora),
with only the x264 arguments of its command changed per variant:

- `classify`: no proxy at all (the decode and the classification: what any proxy adds to);
- `intra`: the production encode (`-g 1`, crf `media.proxy_crf` = 18);
- `gopN`: a keyframe every N frames, no B-frames (clips would then need a keyframe forced at each
  session's start, and readers would seek: the cost of that is not counted, so this is a lower bound);
- `crfN`: intra-only at crf N.

`--rounds` interleaved rounds, each with the decode floor (`ffmpeg -threads 1 -i X -an -f null -`);
prints per variant the median CPU / the median floor and the proxies' size. Every figure printed
comes from this run.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_quality import RECORDINGS, THRESHOLDS, decode_floor  # bench/ is not a package
from scale import corpora
from stage_cpu import cpu_now

from edu_affect_data.media import video_pass
from edu_affect_data.media.video_pass import ChunkJob, ProxySpec, scan_chunk

VARIANT = re.compile(r"^(classify|intra|gop(\d+)|crf(\d+))$")
PRODUCTION_CRF = 18
PROXY_HEIGHT = 360


def with_gop(gop: int) -> Callable[..., Any]:
    """The production `_command` with `-g 1` replaced by `-g gop -bf 0` for every proxy output."""
    production = video_pass._command

    def command(job: ChunkJob, width: int, height: int) -> tuple[list[str], Any, int]:
        words, placed, frame_bytes = production(job, width, height)
        changed: list[str] = []
        for word in words:
            if changed and changed[-1] == "-g" and word == "1":
                changed += [str(gop), "-bf", "0"]
            else:
                changed.append(word)
        return changed, placed, frame_bytes

    return command


def run_variant(variant: str, video: Path, regions: tuple[str, ...], seconds: float, folder: Path) -> tuple[float, int]:
    """CPU seconds of one pass of `variant` over `[0, seconds)` and the bytes of the proxies it wrote."""
    match = VARIANT.match(variant)
    assert match is not None
    folder.mkdir(parents=True, exist_ok=True)
    crf = int(match.group(3)) if match.group(3) else PRODUCTION_CRF
    proxy = None if variant == "classify" else ProxySpec(PROXY_HEIGHT, crf)
    paths = tuple((region, str(folder / f"{region}.mp4")) for region in regions) if proxy else ()
    job = ChunkJob(video.stem, video, regions, 0, 0.0, seconds, 0.0, THRESHOLDS, proxy, paths)
    production = video_pass._command
    if match.group(2):
        video_pass._command = with_gop(int(match.group(2)))  # type: ignore[assignment]
    try:
        before = cpu_now()
        scan_chunk(job)
        spent = cpu_now() - before
    finally:
        video_pass._command = production  # type: ignore[assignment]
    return spent, sum(Path(path).stat().st_size for _, path in paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-proxy"))
    parser.add_argument("--variants", nargs="+", default=["classify", "intra", "gop30", "gop250", "crf23", "crf28"])
    parser.add_argument("--seconds", type=float, default=40.0, help="seconds of each recording")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bad = [v for v in args.variants if not VARIANT.match(v)]
    if bad:
        parser.error(f"unknown variants {bad}: classify, intra, gopN or crfN")

    folder = corpora(args.out, "resolution", 0)
    print(f"| corpus | decode floor (CPU s) | {' | '.join(args.variants)} |")
    print("|---|---|" + "---|" * len(args.variants))
    for corpus, (relative, regions) in RECORDINGS.items():
        video = folder / relative
        cpu: dict[str, list[float]] = {"floor": [], **{v: [] for v in args.variants}}
        size: dict[str, int] = {}
        for round_ in range(args.rounds):
            cpu["floor"].append(decode_floor(video, args.seconds))
            for variant in args.variants if round_ % 2 == 0 else reversed(args.variants):
                spent, size[variant] = run_variant(variant, video, regions, args.seconds, args.out / "encode" / corpus / variant)
                cpu[variant].append(spent)
        floor = statistics.median(cpu["floor"])
        cells = [f"{statistics.median(cpu[v]) / floor:.2f}x, {size[v] / 1e6:.1f} MB" for v in args.variants]
        print(f"| {corpus} | {floor:.2f} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()

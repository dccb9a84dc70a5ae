"""What the region proxy's height costs and buys: the one video pass's CPU, clip fidelity, embeddings (by hand).

    .venv/bin/python bench/proxy_quality.py --out /tmp/bench-proxy                 # 360 vs 300, ~4 min
    .venv/bin/python bench/proxy_quality.py --out /tmp/bench-proxy --heights 360 300 240 --rounds 5

Issue 24 asks for a cheaper one video pass that keeps what the annotators and the frame embedder
need. The pass decodes the source once and writes one intra-only H.264 proxy per speaker region at
`media.proxy_height`; the encode is most of its cost beyond the decode, and it scales with the
proxy's pixels. This bench takes the first `--seconds` of one recording per corpus of the
`resolution` profile (IEMOCAP-like 720x480 DivX with two regions, MOSEI-like 1280x720 H.264 with
one), synthesized once under OUT/corpora, and for each height of `--heights` (the first is the
reference):

- **CPU** of the production pass (`video_pass.scan_chunk`: ffmpeg and the Python classifier, self
  plus children), `--rounds` interleaved rounds with the bare decode floor (`ffmpeg -threads 1 -i X
  -an -f null -`) in each round; medians and pass / floor.
- **Fidelity**: every `--every`-th frame of each proxy against the source region (the same frame,
  decoded from the source and cropped): PSNR of the proxy scaled back up to the region's size
  (bicubic: what the lower resolution and the encode lose together) and of the proxy against the
  source region scaled down to the proxy's size (area: the encode alone). Luma, 8-bit peak.
- **Embeddings**: the same frames as the features stage makes them (proxy frame resized to 224 px
  with INTER_AREA, RGB) through the default frame network (EfficientNet-Lite0, bundled weights);
  cosine similarity per frame between each height's embedding and the reference height's, and of
  each height's to the embedding of the source region itself (what the proxy is meant to stand for).
- **Scaling order** (reference height only): the features' frames scaled per 4:2:0 plane and then
  converted (`media.sampling.scaled_bgr`, since 2026-12-06) against the earlier order (converted to
  BGR, then resized): mean absolute pixel difference, and the cosine between the two embeddings.

Every figure printed comes from this run; all also go to OUT/proxy_quality.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import corpora  # the synthesized `resolution` corpora, cached under OUT/corpora
from stage_cpu import cpu_now  # this process and its reaped children (ffmpeg)

from edu_affect_data.media.frames import region_columns
from edu_affect_data.media.timelines import VideoThresholds
from edu_affect_data.media.video_pass import ChunkJob, ProxySpec, proxy_size, scan_chunk

#: One recording per corpus of the `resolution` profile and its speaker regions.
RECORDINGS = {
    "iemocap": ("IEMOCAP_full_release/Session1/dialog/avi/DivX/Ses01F_impro01.avi", ("left", "right")),
    "mosei": ("CMU_MOSEI/Raw/Videos/Full/Combined/417759.mp4", ("full",)),
}
#: The paper configuration's gap thresholds (no face check): what the pass classifies with.
THRESHOLDS = VideoThresholds(black_luma=10.0, frozen_mad=0.5, face_check=False)
EMBED_SIZE = 224


def run_pass(video: Path, regions: tuple[str, ...], seconds: float, height: int, crf: int, folder: Path) -> tuple[float, dict[str, Path]]:
    """CPU seconds of one production pass over `[0, seconds)` and the proxies it wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = tuple((region, str(folder / f"{region}.mp4")) for region in regions)
    job = ChunkJob(video.stem, video, regions, 0, 0.0, seconds, 0.0, THRESHOLDS, ProxySpec(height, crf), paths)
    before = cpu_now()
    scan_chunk(job)
    return cpu_now() - before, {region: Path(path) for region, path in paths}


def decode_floor(video: Path, seconds: float) -> float:
    from imageio_ffmpeg import get_ffmpeg_exe

    before = cpu_now()
    subprocess.run(
        [get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-threads", "1", "-to", f"{seconds}", "-i", str(video),
         "-an", "-f", "null", "-"],
        check=True,
    )
    return cpu_now() - before


def decoded(path: Path, every: int, pixel_format: str, crop: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Every `every`-th frame as `pixel_format` (`gray`, `rgb24`, `yuv420p`), optionally only columns `crop`."""
    import av

    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "NONE"
        for index, frame in enumerate(container.decode(stream)):
            if index % every == 0:
                picture = frame.to_ndarray(format=pixel_format)
                frames.append(np.ascontiguousarray(picture[:, crop[0] : crop[1]] if crop else picture))
    return frames


def scaling_order(embedder: Any, proxy: Path, every: int) -> dict[str, float]:
    """The features' frames made per plane (now) and converted first (before): pixels and embeddings."""
    import cv2

    from edu_affect_data.media.sampling import scaled_bgr

    pictures = decoded(proxy, every, "yuv420p")
    now = np.stack([scaled_bgr(p, EMBED_SIZE)[:, :, ::-1] for p in pictures])
    before = np.stack([
        cv2.resize(cv2.cvtColor(p, cv2.COLOR_YUV2BGR_I420), (EMBED_SIZE, EMBED_SIZE), interpolation=cv2.INTER_AREA)[:, :, ::-1]
        for p in pictures
    ])
    cos = cosines(embedder.embed(np.ascontiguousarray(now)).astype(np.float64),
                  embedder.embed(np.ascontiguousarray(before)).astype(np.float64))
    return {"frames": len(pictures), "pixel_mean_abs": float(np.abs(now.astype(int) - before.astype(int)).mean()),
            "cos_median": float(np.median(cos)), "cos_min": float(np.min(cos))}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def embed(embedder: Any, pictures: list[np.ndarray]) -> np.ndarray:
    import cv2

    small = np.stack([cv2.resize(p, (EMBED_SIZE, EMBED_SIZE), interpolation=cv2.INTER_AREA) for p in pictures])
    return embedder.embed(small).astype(np.float64)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def fidelity(video: Path, regions: tuple[str, ...], proxies: dict[int, dict[str, Path]], every: int) -> dict[str, Any]:
    """PSNR per height and region, and the embeddings' cosines (see the module docstring)."""
    import cv2

    from edu_affect_data.media.probe import probe_media
    from edu_affect_data.stages.features.embedder import EmbedderOptions, ImageEmbedder

    width = probe_media(video).video.width  # type: ignore[union-attr]
    embedder = ImageEmbedder(EmbedderOptions(device="cpu"))
    reference = next(iter(proxies))
    found: dict[str, Any] = {}
    for region in regions:
        columns = region_columns(width, region)
        source = decoded(video, every, "gray", columns)
        source_rgb = decoded(video, every, "rgb24", columns)
        source_embedding = embed(embedder, source_rgb)
        embeddings = {h: embed(embedder, decoded(paths[region], every, "rgb24")) for h, paths in proxies.items()}
        for height, paths in proxies.items():
            proxy = decoded(paths[region], every, "gray")
            count = min(len(proxy), len(source))
            shape = source[0].shape
            up = [psnr(cv2.resize(proxy[i], (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC), source[i]) for i in range(count)]
            down = [
                psnr(proxy[i], cv2.resize(source[i], (proxy[i].shape[1], proxy[i].shape[0]), interpolation=cv2.INTER_AREA))
                for i in range(count)
            ]
            n = min(len(embeddings[height]), len(source_embedding))
            to_source = cosines(embeddings[height][:n], source_embedding[:n])
            to_reference = cosines(embeddings[height][:n], embeddings[reference][:n])
            found[f"{region} {height}"] = {
                "frames": count,
                "proxy": f"{proxy[0].shape[1]}x{proxy[0].shape[0]}",
                "psnr_upscaled_db": statistics.median(up),
                "psnr_same_size_db": statistics.median(down),
                "cos_to_source_median": float(np.median(to_source)),
                "cos_to_source_p5": float(np.percentile(to_source, 5)),
                "cos_to_reference_median": float(np.median(to_reference)),
                "cos_to_reference_min": float(np.min(to_reference)),
            }
        found[f"{region} scaling order"] = scaling_order(embedder, proxies[reference][region], every)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-proxy"))
    parser.add_argument("--heights", type=int, nargs="+", default=[360, 300], help="proxy heights; the first is the reference")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--seconds", type=float, default=40.0, help="seconds of each recording")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--every", type=int, default=10, help="fidelity on every n-th frame")
    args = parser.parse_args()

    folder = corpora(args.out, "resolution", 0)
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    for corpus, (relative, regions) in RECORDINGS.items():
        video = folder / relative
        cpu: dict[str, list[float]] = {"floor": [], **{str(h): [] for h in args.heights}}
        proxies: dict[int, dict[str, Path]] = {}
        for round_ in range(args.rounds):
            order = args.heights if round_ % 2 == 0 else list(reversed(args.heights))
            cpu["floor"].append(decode_floor(video, args.seconds))
            for height in order:
                spent, proxies[height] = run_pass(video, regions, args.seconds, height, args.crf, args.out / "proxies" / corpus / str(height))
                cpu[str(height)].append(spent)
        floor = statistics.median(cpu["floor"])
        print(f"\n{corpus} ({video.name}, first {args.seconds:.0f} s, {len(regions)} region(s)), medians of {args.rounds} rounds:")
        print(f"  decode floor {floor:.2f} CPU s")
        for height in args.heights:
            spent = statistics.median(cpu[str(height)])
            from edu_affect_data.media.probe import probe_media

            stream = probe_media(video).video
            assert stream is not None
            lo, hi = region_columns(stream.width, regions[0])
            size = proxy_size(hi - lo, stream.height, ProxySpec(height, args.crf))
            print(f"  pass, proxies {size[0]}x{size[1]}: {spent:.2f} CPU s = {spent / floor:.2f}x the floor")
        quality = fidelity(video, regions, proxies, args.every)
        print(f"  {'region, height':16}{'proxy':>10}{'PSNR up':>9}{'PSNR same':>11}{'cos src':>9}{'p5':>7}{'cos ref':>9}{'min':>7}")
        for key, row in quality.items():
            if key.endswith("scaling order"):
                print(f"  {key}: per plane vs converted first, {row['frames']} frames of the {args.heights[0]}-px proxy: "
                      f"pixels differ by {row['pixel_mean_abs']:.2f} levels on average; embeddings' cosine median "
                      f"{row['cos_median']:.5f}, min {row['cos_min']:.5f}")
                continue
            print(f"  {key:16}{row['proxy']:>10}{row['psnr_upscaled_db']:9.2f}{row['psnr_same_size_db']:11.2f}"
                  f"{row['cos_to_source_median']:9.4f}{row['cos_to_source_p5']:7.4f}"
                  f"{row['cos_to_reference_median']:9.4f}{row['cos_to_reference_min']:7.4f}")
        results[corpus] = {"cpu_s": cpu, "floor_median": floor, "fidelity": quality}
    (args.out / "proxy_quality.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

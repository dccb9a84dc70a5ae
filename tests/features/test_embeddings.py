"""Frame embeddings: the ImageNet sanity of the embedder, the column through publish/load/validate, the stores, checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import datasets
import numpy as np
import pyarrow as pa
import pytest
import torch
from torch import nn

from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.media.sampling import SCALING
from edu_affect_data.stages.features.embedder import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    EmbedderError,
    EmbedderOptions,
    ImageEmbedder,
    embed_pipelined,
    embedder_identity,
)
from edu_affect_data.stages.features.frames import FramesExtractor
from edu_affect_data.stages.features.schema import dataset_features, rows_to_table
from edu_affect_data.stages.validate import row_checks, validate_dataset
from tests.features.fake_build import make_build, published_build, small_config

#: ImageNet classes: tabby, tiger cat, Egyptian cat (chelsea.png); espresso (coffee.png).
CATS = {281, 282, 285}
ESPRESSO = 967
#: The tests embed at 112 px: the fake recordings are 96 px high, and it keeps the builds fast.
SIZE = 112


@pytest.fixture(scope="module")
def lite0() -> ImageEmbedder:
    return ImageEmbedder(EmbedderOptions(device="cpu"))


def imagenet_top1(embedder: ImageEmbedder, image: np.ndarray) -> tuple[int, int]:
    """Top-1 of the full classifier on the embedder's input, and of its classifier on the stored float16 vector."""
    pixels = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)[None]
    with torch.inference_mode():
        full = int(embedder.model(embedder.normalise(pixels)).argmax())
        stored = torch.from_numpy(embedder.embed(pixels)).float()
        from_embedding = int(embedder.model._fc(stored).argmax())
    return full, from_embedding


@pytest.mark.slow
def test_efficientnet_lite0_recognises_imagenet_photographs(lite0: ImageEmbedder) -> None:
    from skimage import data

    assert lite0.identity.dim == 1280 and lite0.identity.model == "efficientnet-lite0"
    cat = imagenet_top1(lite0, data.chelsea())
    coffee = imagenet_top1(lite0, data.coffee())
    assert cat[0] in CATS and cat[1] in CATS
    assert coffee == (ESPRESSO, ESPRESSO)


@pytest.mark.slow
def test_batches_pack_frames_across_items_and_leave_masked_rows_zero(lite0: ImageEmbedder) -> None:
    rng = np.random.default_rng(0)
    items = [rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8) for n in (5, 0, 40, 3)]
    masks = [np.arange(len(p)) % 3 != 1 for p in items]
    small = ImageEmbedder(EmbedderOptions(device="cpu", batch_size=8))
    vectors = embed_pipelined(range(len(items)), lambda i: (items[i], masks[i]), small, threads=2)
    assert [v.shape for v in vectors] == [(5, 1280), (0, 1280), (40, 1280), (3, 1280)]
    for pixels, mask, got in zip(items, masks, vectors, strict=True):
        assert not got[~mask].any()
        np.testing.assert_allclose(got[mask], lite0.embed(pixels[mask]), rtol=2e-2, atol=2e-2)
    again = embed_pipelined(range(len(items)), lambda i: (items[i], masks[i]), small, threads=1)
    for first, second in zip(vectors, again, strict=True):
        np.testing.assert_array_equal(first, second)


def test_store_decides_the_video_columns() -> None:
    def columns(store: str) -> list[str]:
        config = small_config(**{"features.extractors.frames.store": store, "features.extractors.frames.embedder.size": SIZE})
        return [c for c in dataset_features(config, hidden_size=384) if "frame" in c]

    assert columns("frames") == ["frames", "frame_times", "frame_available"]
    assert columns("embeddings") == ["frame_embeddings", "frame_times", "frame_available"]
    assert columns("both") == ["frames", "frame_embeddings", "frame_times", "frame_available"]
    config = small_config(**{"features.extractors.frames.store": "embeddings"})
    assert dataset_features(config, hidden_size=384)["frame_embeddings"] == datasets.Array2D(
        shape=(None, 1280), dtype="float16"
    )


def build_with(out: Path, store: str) -> tuple[BuildPaths, dict[str, dict[str, Any]]]:
    """Features + publish of the (already split) build under `store`; the rows by session id, as numpy."""
    from edu_affect_data.stages.features.run import run_features
    from edu_affect_data.stages.publish import run_publish

    paths = BuildPaths(out)
    config = small_config(**{"features.extractors.frames.store": store, "features.extractors.frames.embedder.size": SIZE})
    run_features(config, paths)
    run_publish(config, paths)
    loaded = datasets.load_dataset(str(paths.dataset))
    rows = {row["session_id"]: row for split in loaded.values() for row in split.with_format("numpy")}
    arrow_type = loaded["train"].data.schema.field("frame_embeddings").type
    return paths, {"features": loaded["train"].features, "rows": rows, "arrow_type": arrow_type}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference build (JPEG frames), then embeddings, then both, on the same sessions."""
    from edu_affect_data.stages.split import run_split

    reference = published_build(tmp_path_factory.getbasetemp())
    frames = datasets.load_dataset(str(reference.dataset))
    out = tmp_path_factory.mktemp("embeddings")
    make_build(out, n_dialogs=3, sessions_per_speaker=3)
    run_split(small_config(), BuildPaths(out))
    paths, embeddings = build_with(out, "embeddings")
    card = (paths.dataset / "README.md").read_text()
    violations = validate_dataset(paths.dataset)
    _, both = build_with(out, "both")
    return {
        "frames": {row["session_id"]: row for split in frames.values() for row in split.with_format("numpy")},
        "embeddings": embeddings,
        "both": both,
        "card": card,
        "violations": violations,
    }


@pytest.mark.slow
def test_frame_embeddings_round_trip_through_load_dataset(stores: dict[str, Any]) -> None:
    features = stores["embeddings"]["features"]
    assert features["frame_embeddings"] == datasets.Array2D(shape=(None, 1280), dtype="float16")
    assert "frames" not in features
    assert stores["embeddings"]["arrow_type"].value_type == pa.float16()  # stored as float16 (numpy reads float32)
    for session, row in stores["embeddings"]["rows"].items():
        reference = stores["frames"][session]
        embeddings = row["frame_embeddings"]
        assert embeddings.shape == (len(reference["frames"]), 1280)
        np.testing.assert_array_equal(row["frame_times"], reference["frame_times"])
        np.testing.assert_array_equal(row["frame_available"], reference["frame_available"])
        available = row["frame_available"]
        assert not embeddings[~available].any()
        assert np.isfinite(embeddings).all() and (np.abs(embeddings[available]).sum(axis=1) > 0).all()


@pytest.mark.slow
def test_both_stores_the_same_embeddings_next_to_the_jpeg_frames(stores: dict[str, Any]) -> None:
    assert [c for c in stores["both"]["features"] if "frame" in c] == [
        "frames",
        "frame_embeddings",
        "frame_times",
        "frame_available",
    ]
    for session, row in stores["both"]["rows"].items():
        np.testing.assert_array_equal(row["frame_embeddings"], stores["embeddings"]["rows"][session]["frame_embeddings"])
        assert len(row["frames"]) == len(stores["frames"][session]["frames"])


@pytest.mark.slow
def test_validate_accepts_the_embeddings_and_the_card_names_the_embedder(stores: dict[str, Any]) -> None:
    assert stores["violations"] == []
    identity = embedder_identity(EmbedderOptions(size=SIZE))
    card = stores["card"]
    assert f"weights SHA-256 `{identity.weights_sha256}`" in card
    assert f"to {SIZE}x{SIZE} RGB ({SCALING})" in card and f"weights_sha256: {identity.weights_sha256}" in card


def embedding_row(embeddings: np.ndarray, available: list[bool]) -> dict[str, Any]:
    """One published row's video columns as Arrow scalars (what `validate` hands to the checks)."""
    features = dataset_features(small_config(**{"features.extractors.frames.store": "embeddings"}), hidden_size=384)
    video = datasets.Features({c: features[c] for c in ("frame_embeddings", "frame_times", "frame_available")})
    n = len(available)
    table = rows_to_table(
        [
            {
                "frame_embeddings": embeddings,
                "frame_times": np.arange(n, dtype=np.float32) / 5,
                "frame_available": np.asarray(available),
            }
        ],
        video,
    )
    return {name: table.column(name)[0] for name in video}


def test_the_frames_check_catches_broken_embeddings() -> None:
    (check,) = row_checks(["frame_embeddings", "frame_times", "frame_available"])
    good = np.ones((3, 1280), np.float16)
    good[1] = 0
    assert list(check(embedding_row(good, [True, False, True]), 2.0)) == []
    nan = good.copy()
    nan[0, 5] = np.nan
    assert [name for name, _ in check(embedding_row(nan, [True, False, True]), 2.0)] == ["finite"]
    assert [name for name, _ in check(embedding_row(good, [True, True, False]), 2.0)] == ["embeddings"]
    assert [name for name, _ in check(embedding_row(good[:2], [True, False, True]), 2.0)] == ["shape"]


def test_a_missing_resnet_checkpoint_says_how_to_provide_one(tmp_path: Path) -> None:
    for weights in (None, tmp_path / "resnet50.pth"):
        config = load_config(
            None, {"features.extractors.frames.store": "embeddings", "features.extractors.frames.embedder.model": "resnet-50",
                   "features.extractors.frames.embedder.weights": weights}
        )
        with pytest.raises(EmbedderError) as error:
            FramesExtractor().settings(config)
        message = str(error.value)
        assert "features.extractors.frames.embedder.weights" in message and "nothing is downloaded" in message
        assert "save_pretrained" in message and "torchvision.models.resnet50" in message


class Bottleneck(nn.Module):
    """torchvision's ResNet-50 v1.5 bottleneck, written out (torchvision is not a dependency)."""

    def __init__(self, inputs: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inputs, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
        self.downsample = (
            nn.Sequential(nn.Conv2d(inputs, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4))
            if stride != 1 or inputs != width * 4
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + shortcut)


class TorchvisionResNet50(nn.Module):
    """The module names and computation of `torchvision.models.resnet50()`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        inputs = 64
        for index, (blocks, width, stride) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512), (1, 2, 2, 2), strict=True)):
            layers = []
            for block in range(blocks):
                layers.append(Bottleneck(inputs, width, stride if block == 0 else 1))
                inputs = width * 4
            setattr(self, f"layer{index + 1}", nn.Sequential(*layers))
        self.fc = nn.Linear(2048, 1000)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for index in range(1, 5):
            x = getattr(self, f"layer{index}")(x)
        return x.mean((2, 3))


@pytest.mark.slow
def test_a_torchvision_resnet50_state_dict_computes_the_same_embeddings(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = TorchvisionResNet50().eval()
    for module in reference.modules():  # non-trivial batch-norm statistics, so a misplaced one shows
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.2, 0.4)
    weights = tmp_path / "resnet50.pth"
    torch.save(reference.state_dict(), weights)
    embedder = ImageEmbedder(EmbedderOptions(model="resnet-50", weights=weights, size=64, device="cpu"))
    assert embedder.identity.dim == 2048
    pixels = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    x = (torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / (
        torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    )
    with torch.inference_mode():
        expected = reference.pooled(x).numpy()
    np.testing.assert_allclose(embedder.embed(pixels).astype(np.float32), expected, rtol=1e-2, atol=1e-3)


def test_a_transformers_resnet_folder_is_loaded_locally_with_its_pooled_output(tmp_path: Path) -> None:
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    small = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 32], depths=[1, 1, 1, 1])
    classifier = ResNetForImageClassification(small).eval()
    classifier.save_pretrained(tmp_path / "resnet")  # what `save_pretrained` of microsoft/resnet-50 writes
    embedder = ImageEmbedder(
        EmbedderOptions(model="resnet-50", weights=tmp_path / "resnet", size=32, device="cpu")
    )
    assert embedder.identity.dim == 32
    pixels = np.random.default_rng(2).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    with torch.inference_mode():
        expected = classifier.resnet(pixel_values=embedder.normalise(pixels)).pooler_output.flatten(1).numpy()
    np.testing.assert_allclose(embedder.embed(pixels).astype(np.float32), expected, rtol=1e-2, atol=1e-3)

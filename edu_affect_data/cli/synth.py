"""`edu-data synth`: write the synthetic IEMOCAP and CMU-MOSEI corpora (and their truth)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from edu_affect_data.cli import app
from edu_affect_data.cli.errors import FLAG


@app.command("synth")
def synth(
    out: Path = typer.Argument(
        ..., help="Folder to write IEMOCAP_full_release/, CMU_MOSEI/ and synth_truth.json into."
    ),
    profile: str = typer.Option("tiny", "--profile", help="tiny | demo | claims | claims-control | paper-shape | demo-4x | paper-shape-lite | resolution (claims-control: claims with no planted phenomenon)"),
    seed: int = typer.Option(0, "--seed", help="Same seed and profile give byte-identical files."),
    overwrite: bool = typer.Option(False, "--overwrite", metavar=FLAG, help="Replace corpora already in OUT."),
    noise: bool | None = typer.Option(
        None,
        "--noise/--no-noise",
        metavar=FLAG,
        help="Plant time-local noise bursts (audio noise, occlusion/blur, garbled words) inside kept "
        "sessions; default: the profile's choice (on for demo and claims).",
        show_default=False,
    ),
) -> None:
    """Write synthetic corpora in the real on-disk formats, with injected faults and a learnable latent emotion.

    Example:

      edu-data synth corpora --profile demo --seed 0
    """
    from edu_affect_data.synth import summarize, synthesize

    started = time.perf_counter()
    try:
        synthesize(out, profile, seed, overwrite=overwrite, noise=noise)
    except (ValueError, FileExistsError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    s = summarize(out)
    typer.echo(
        f"{out}: profile {profile}, seed {seed}, {s.noise_bursts} noise bursts: "
        f"{s.recordings} recordings, {s.units} units, "
        f"{s.faults} faults, {s.broken_files} broken files in {time.perf_counter() - started:.1f} s"
    )

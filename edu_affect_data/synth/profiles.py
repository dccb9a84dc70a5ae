"""Sizes of the synthetic corpora, one frozen dataclass instance per profile.

The numbers live here and nowhere else so a profile can be read in one place: `tiny` exists for
tests (every quirk and every fault kind, seconds to build), `demo` for the 20-minute end-to-end
demo (about 250 candidate 12-s sessions over 20 speakers, small video), and `paper-shape` for
benchmarks at the paper's proportions (10 IEMOCAP speakers, 40 MOSEI speakers, about 6,200
candidate 30-s sessions; slow, never run in tests). `claims` is the demo's look at about seven
times the recordings (bench/claims.py: enough test sessions to separate models). Profiles with
`noise` plant time-local noise bursts inside kept sessions (noise.py); `demo` and `claims` do.
`claims` also plants the phenomena the paper's other two mechanisms exist for (phenomena.py: `cmaa`
audio-visual coincidences, `tfl` a persistent state behind weak per-step evidence), and
`claims-control` is the same corpus with all three absent: no noise bursts, the same events and
state tracks but carrying no class. The report compares each mechanism's effect on the two.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class IemocapShape:
    #: Dialog names, e.g. `Ses03M_impro05a`; their session numbers decide the actors.
    dialogs: tuple[str, ...]
    #: Length of every dialog, seconds.
    dialog_s: float
    #: Side-by-side frame (width, height); each actor gets one half. The real corpus is 720x480.
    frame_size: tuple[int, int]


@dataclass(frozen=True)
class MoseiShape:
    #: Number of full videos (one speaker each).
    videos: int
    #: Length of every video, seconds.
    video_s: float
    frame_size: tuple[int, int]
    fps: float


@dataclass(frozen=True)
class NoiseShape:
    """Time-local noise bursts (noise.py): degraded, never absent, signal inside kept sessions."""

    #: Bursts per minute of recording, for each modality (audio, video, text) separately.
    per_minute: float = 3.0
    #: Length of a burst, seconds: under the gap rule's 2-s threshold by construction.
    duration_s: tuple[float, float] = (0.5, 1.8)
    #: Signal-to-noise ratio of an audio burst against the clean recording in its interval, dB.
    snr_db: tuple[float, float] = (0.0, 5.0)
    #: What a video burst does to the speaker's region (one drawn per burst).
    video_kinds: tuple[str, ...] = ("occlusion", "blur")


@dataclass(frozen=True)
class CmaaShape:
    """Audio-visual coincidences (phenomena.py): class evidence readable only with audio and video
    aligned in time. Every long enough unit gets two audio events (a tap, a chime) and two visual
    events (a flash, a shadow over the speaker's region); exactly one audio event coincides with one
    visual event, and which pair coincides codes a class. Each modality alone shows the same events
    in every class, at exactly exchangeable times."""

    #: Whether the coded class follows the speaker's latent emotion (the profile's `expression_p`,
    #: like every modality's expression). False is the control: the same events, times and draws,
    #: the coded class drawn uniformly at random for each unit.
    coupled: bool = True
    #: Length of an audio event and of a visual event, seconds (a visual event spans 2 frames at
    #: the demo pipeline's 5 fps).
    audio_s: float = 0.25
    video_s: float = 0.4
    #: Every event's onset is jittered uniformly by +-`jitter_s` / 2 around its slot: the onsets of
    #: a coincident pair differ by at most `jitter_s`.
    jitter_s: float = 0.1
    #: Distance between the slots of events that do not coincide, seconds: more than one step of
    #: the model's 1-s grid, so coincident and separate pairs differ at that grid too.
    apart_s: float = 1.2


@dataclass(frozen=True)
class TflShape:
    """A persistent state behind weak per-step evidence (phenomena.py): each speaker of a recording
    has a 2-d state whose mean is a corner of a square coding a class, shown once per step as the
    colour of a light band at the top of their region, with per-step Gaussian scatter (sd 1) much
    larger than the corner's distance from the centre. One step is weak evidence; the mean over a
    session's steps is strong."""

    #: Whether the state's class is the speaker's latent emotion in that recording. False is the
    #: control: the same scatter around the corner of a class drawn at random per speaker and recording.
    coupled: bool = True
    #: Length of one step of the state, seconds (the model's default grid).
    step_s: float = 1.0
    #: Distance of the class corner from the centre on each axis, in per-step standard deviations:
    #: per step the best rule is right 38 % of the time (chance 25 %); over a 12-s session 72 %.
    separation: float = 0.3
    #: Grey levels of the band's blue (axis 0) and red (axis 1) channel per unit of state.
    levels: float = 40.0


@dataclass(frozen=True)
class Profile:
    name: str
    iemocap: IemocapShape
    mosei: MoseiShape
    #: How many times the catalogue of faults (faults.py) is placed over the corpora.
    fault_rounds: int
    #: Probability that one unit expresses the latent class in one modality (else another class).
    #: 0.75 measured on the demo: each modality alone well above chance, fusion clearly better.
    expression_p: float = 0.75
    #: Time-local noise bursts inside kept sessions; None writes none.
    noise: NoiseShape | None = None
    #: Whether some recordings get broken files (truncated wav, garbage video, ...), one per kind.
    broken_files: bool = True
    #: Planted audio-visual coincidences (CMAA) and persistent state (TFL); None plants none.
    cmaa: CmaaShape | None = None
    tfl: TflShape | None = None


def _real_dialog_names() -> tuple[str, ...]:
    """All 151 dialog names of the real release's pattern (impro01-08 with a/b splits, scripts)."""
    names: list[str] = []
    scripts = ("01_1", "01_2", "01_3", "02_1", "02_2", "03_1", "03_2")
    for session in range(1, 6):
        for prefix in "FM":
            stem = f"Ses0{session}{prefix}"
            for k in range(1, 9):
                if session == 3 and prefix == "M" and k in (5, 8):
                    names += [f"{stem}_impro0{k}a", f"{stem}_impro0{k}b"]
                elif k < 8 or session in (1, 2, 4) or (session, prefix) == (5, "F"):
                    names.append(f"{stem}_impro0{k}")
            names += [f"{stem}_script{s}" for s in scripts]
            if session == 5 and prefix == "M":
                names.append(f"{stem}_script01_1b")
    return tuple(names)


TINY = Profile(
    name="tiny",
    iemocap=IemocapShape(
        dialogs=(
            "Ses03F_impro02",
            "Ses03M_impro05a",
            "Ses03M_impro05b",
            "Ses05F_script02_1",
            "Ses05M_script01_1b",
            "Ses05F_impro03",
        ),
        dialog_s=45.0,
        frame_size=(192, 72),
    ),
    mosei=MoseiShape(videos=5, video_s=40.0, frame_size=(96, 72), fps=15.0),
    fault_rounds=1,
)

DEMO = Profile(
    name="demo",
    iemocap=IemocapShape(
        dialogs=(
            "Ses01F_impro01",
            "Ses01M_impro03",
            "Ses01F_script01_1",
            "Ses01M_script02_2",
            "Ses02F_impro02",
            "Ses02M_impro06",
            "Ses02F_script03_1",
            "Ses02M_script01_3",
            "Ses03F_impro04",
            "Ses03M_impro05a",
            "Ses03M_impro05b",
            "Ses03F_script02_1",
            "Ses04F_impro07",
            "Ses04M_impro08",
            "Ses04F_script01_2",
            "Ses04M_script03_2",
            "Ses05F_impro02",
            "Ses05M_impro05",
            "Ses05M_script01_1b",
            "Ses05F_script02_2",
        ),
        dialog_s=96.0,
        frame_size=(320, 120),
    ),
    mosei=MoseiShape(videos=20, video_s=72.0, frame_size=(160, 120), fps=15.0),
    fault_rounds=2,
    noise=NoiseShape(),
)

CLAIMS = Profile(
    name="claims",
    iemocap=IemocapShape(dialogs=_real_dialog_names(), dialog_s=96.0, frame_size=(320, 120)),
    mosei=MoseiShape(videos=140, video_s=72.0, frame_size=(160, 120), fps=15.0),
    fault_rounds=14,
    noise=NoiseShape(),
    cmaa=CmaaShape(),
    tfl=TflShape(),
)

#: `claims` with every planted phenomenon absent (same recordings, turns, faults, seeds and
#: sizes): no noise bursts, and the coincidences and state tracks drawn exactly as in `claims` but
#: coding a random class. The mechanisms' effects on it are the baseline of the claims.
CLAIMS_CONTROL = dataclasses.replace(
    CLAIMS, name="claims-control", noise=None, cmaa=CmaaShape(coupled=False), tfl=TflShape(coupled=False)
)

PAPER_SHAPE = Profile(
    name="paper-shape",
    iemocap=IemocapShape(dialogs=_real_dialog_names(), dialog_s=360.0, frame_size=(720, 480)),
    mosei=MoseiShape(videos=40, video_s=2400.0, frame_size=(640, 360), fps=30.0),
    fault_rounds=8,
)

#: The demo's look at four times its recordings (76 dialogs, 80 videos), each half as long: about
#: twice its media and candidates (~1,160 with bench/scale.py's sessions), the middle size of
#: bench/scale.py. Frames as the demo's, so per-session costs compare across the sizes.
DEMO_4X = Profile(
    name="demo-4x",
    iemocap=IemocapShape(dialogs=_real_dialog_names()[::2][:80], dialog_s=48.0, frame_size=(320, 120)),
    mosei=MoseiShape(videos=80, video_s=36.0, frame_size=(160, 120), fps=15.0),
    fault_rounds=8,
    noise=NoiseShape(),
)

#: The paper's speakers (10 IEMOCAP actors in 151 dialogs, 40 MOSEI speakers) and, with
#: bench/scale.py's short sessions (one IEMOCAP turn, one or two MOSEI segments), its ~6,200
#: candidate sessions (about 3,100 per corpus; 9.8 h of media); frames as small as the demo's so it
#: builds on a laptop and per-session costs compare with it. The largest size of bench/scale.py.
PAPER_SHAPE_LITE = Profile(
    name="paper-shape-lite",
    iemocap=IemocapShape(dialogs=_real_dialog_names(), dialog_s=96.0, frame_size=(320, 120)),
    mosei=MoseiShape(videos=40, video_s=510.0, frame_size=(160, 120), fps=15.0),
    fault_rounds=8,
    noise=NoiseShape(),
)

#: A few recordings at the real corpora's resolutions (IEMOCAP 720x480 DivX at 29.97 fps, MOSEI
#: 1280x720 H.264 at 30 fps): what bench/scale.py measures per-media-second costs on.
RESOLUTION = Profile(
    name="resolution",
    iemocap=IemocapShape(dialogs=("Ses01F_impro01", "Ses02M_impro06"), dialog_s=60.0, frame_size=(720, 480)),
    mosei=MoseiShape(videos=2, video_s=60.0, frame_size=(1280, 720), fps=30.0),
    fault_rounds=0,
    broken_files=False,
)

PROFILES: dict[str, Profile] = {
    p.name: p for p in (TINY, DEMO, CLAIMS, CLAIMS_CONTROL, PAPER_SHAPE, DEMO_4X, PAPER_SHAPE_LITE, RESOLUTION)
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None

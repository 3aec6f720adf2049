"""The typed values that pipeline stages hand to each other.

Every stage (decode → pose / embeddings → counters / localizers → answer) takes and returns
one of these, so a stage can be swapped or tested alone. They are defined here, once.
Arrays are NumPy; shapes are noted beside each field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Every JSON object a countllm command prints or writes carries this as "schema_version";
# it changes only when a key is renamed, removed or changes meaning (adding keys keeps it).
JSON_SCHEMA_VERSION = 1


@dataclass
class Frames:
    """Decoded, resampled RGB frames of one video (or one chunk of it)."""

    images: np.ndarray  # (T, H, W, 3) uint8 RGB
    timestamps: np.ndarray  # (T,) float seconds, from the container's frame clock
    fps: float  # the sampled rate, not necessarily the file's native rate
    source: str  # path of the video the frames came from
    notes: list[str] = field(default_factory=list)  # what decoding repaired (e.g. a broken clock), said plainly

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass
class Pose:
    """A skeleton sequence in one joint layout, with the frames where nobody was seen.

    `valid[t]` is False where the estimator found no person (or the file had an all-zero row);
    those rows of `joints` have been filled by interpolation so signals stay continuous, and
    `interpolated_frames` says how many were filled, so callers can report it.
    """

    joints: np.ndarray  # (T, J, 3) float32: x, y, z (z may be all zero for 2-D sources)
    valid: np.ndarray  # (T,) bool
    fps: float
    layout: str  # "h36m17" or "mediapipe33"
    source: str = ""
    visibility: np.ndarray | None = None  # (T, J) float32 in [0, 1], where the source has it
    interpolated_frames: int = 0

    def __len__(self) -> int:
        return int(self.joints.shape[0])

    @property
    def detected_fraction(self) -> float:
        return float(self.valid.mean()) if len(self) else 0.0


@dataclass
class Features:
    """Per-frame feature vectors (frame embeddings or flattened pose), on one time axis."""

    vectors: np.ndarray  # (T, D) float32
    fps: float
    kind: str  # e.g. "mobilenet_v2", "pose"
    source: str = ""

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


@dataclass(frozen=True)
class Segment:
    """A time span in seconds, [start, end)."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class CountResult:
    """What every counter returns: the answer and the evidence for it.

    `count` is the number of complete cycles; `cycles` holds one Segment per counted cycle;
    `rests` the spans judged non-repetitive (set-up, pauses, walking away). `signal` names
    the 1-D signal the count was read from and `diagnostics` carries whatever a plot or a
    later stage needs (the signal itself, the period, the scores of rejected candidates).
    """

    count: int
    cycles: list[Segment]
    confidence: float  # in [0, 1]
    method: str
    signal: str = ""
    period_s: float | None = None
    fps: float = 0.0
    duration_s: float = 0.0
    rests: list[Segment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # fallbacks and repairs, said plainly
    diagnostics: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable answer: JSON-able, without the bulky diagnostics arrays."""
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "count": self.count,
            "cycles": [[round(c.start, 3), round(c.end, 3)] for c in self.cycles],
            "confidence": round(float(self.confidence), 3),
            "method": self.method,
            "signal": self.signal,
            "period_s": None if self.period_s is None else round(float(self.period_s), 3),
            "fps": round(float(self.fps), 3),
            "duration_s": round(float(self.duration_s), 3),
            "rests": [[round(r.start, 3), round(r.end, 3)] for r in self.rests],
            "notes": list(self.notes),
        }


def segments_from_json(pairs: list[list[float]]) -> list[Segment]:
    return [Segment(float(a), float(b)) for a, b in pairs]


def as_dict(obj: Any) -> dict[str, Any]:
    """dataclasses.asdict, kept here so callers need not know which stage made the object."""
    return asdict(obj)

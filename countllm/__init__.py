"""countllm: answer questions about repetitive human actions in video, offline on CPU.

Data flow, one subpackage per stage:
    video/ (decode, sample, stream) → pose/ (MediaPipe → H36M-17) | embeddings/ (MobileNetV2)
    → signals/ (candidate signals, periodicity) → counters/ + localize/ → CountResult
`pipeline.count_file` runs the whole path; `types` holds what the stages hand each other.
"""

from countllm.types import CountResult, Features, Frames, Pose, Segment

__version__ = "0.1.0"
__all__ = ["CountResult", "Features", "Frames", "Pose", "Segment", "__version__"]

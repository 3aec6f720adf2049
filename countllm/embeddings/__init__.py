"""Frame embeddings: RGB frames -> one appearance vector per frame (MobileNetV2, ImageNet).

The counters read repetition from these vectors where pose is missing or uninformative.
Nothing here loads weights at import time.
"""

from countllm.embeddings.frame_encoder import (
    FrameEncoder,
    FrameEncoderConfig,
    default_weights_path,
    load_mobilenet_v2,
)
from countllm.embeddings.mobilenet_v2 import MobileNetV2, MobileNetV2Config

__all__ = [
    "FrameEncoder",
    "FrameEncoderConfig",
    "MobileNetV2",
    "MobileNetV2Config",
    "default_weights_path",
    "load_mobilenet_v2",
]

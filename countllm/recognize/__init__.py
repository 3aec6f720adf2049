"""Exercise recognition and set segmentation from pose alone (a LiFT-style skeleton transformer).

    from countllm.recognize import load_recognizer, split_sets
    rec = load_recognizer().recognize(inputs.pose())     # Recognition: exercise, confidence, words, ...
    sets = split_sets(inputs)                            # SetsResult: sets (exercise, span, count), rests

The pieces, in data-flow order: motion_image.py (skeleton → LiFT motion image), words.py +
words.yaml (exercise words, category weights, targets), questions.py (the questions and their
word-level tokenizer), model.py (the ViLT transformer), checkpoint.py, recognizer.py (names the
exercise), sets.py (splits a workout into counted sets). docs/design.md §2 describes the method.
"""

from countllm.recognize.checkpoint import CheckpointError
from countllm.recognize.recognizer import UNKNOWN, Recognition, Recognizer, load_recognizer
from countllm.recognize.sets import ExerciseSet, SetsConfig, SetsResult, split_sets

__all__ = ["UNKNOWN", "CheckpointError", "ExerciseSet", "Recognition", "Recognizer", "SetsConfig", "SetsResult",
           "load_recognizer", "split_sets"]

"""The class-agnostic object renderer: each motion repeats once a cycle, nuisances act, truth is exact."""

from __future__ import annotations

import numpy as np
import pytest

from countllm.benchmarks.annotations import load_annotations
from countllm.synthetic.objects import MOTIONS, ObjectSceneConfig, make_scene, object_frames, render_object_clip


def _frames(**kw) -> list[np.ndarray]:
    frames, _, _ = object_frames(ObjectSceneConfig(size=(96, 96), **kw))
    return [f.astype(np.float64) for f in frames]


@pytest.mark.parametrize("motion", MOTIONS)
def test_each_motion_looks_the_same_only_after_a_whole_cycle(motion: str) -> None:
    # 8 fps, 1 s cycles, 0.5 s lead-in: cycle k spans frames 4 + 8k .. 12 + 8k.
    f = _frames(motion=motion, n_reps=2, period_s=1.0, fps=8.0, lead_in_s=0.5, lead_out_s=0.5)
    start, half, end = f[4], f[8], f[12]
    assert np.abs(end - start).max() < 1e-9  # phase 1 is phase 0
    assert np.abs(half - start).mean() > 1.0  # half a cycle is visibly elsewhere
    assert np.abs(f[0] - start).max() < 1e-9  # the lead-in holds the phase-0 pose


def test_a_rotation_is_not_symmetric_under_half_a_turn() -> None:
    # A plain disc turning would look alike at every phase; the marks make half a turn visible.
    f = _frames(motion="rotation", n_reps=1, period_s=1.0, fps=8.0, lead_in_s=0.0, lead_out_s=0.0)
    assert np.abs(f[4] - f[0]).mean() > 1.0 and np.abs(f[2] - f[6]).mean() > 1.0


def test_nuisances_change_the_frames_without_moving_the_object() -> None:
    held = {"motion": "pulse", "n_reps": 1, "period_s": 1.0, "fps": 8.0, "lead_in_s": 2.0, "lead_out_s": 0.0}
    plain = _frames(**held)
    assert np.abs(plain[15] - plain[0]).max() < 1e-9  # nothing moves during the lead-in
    for nuisance in ({"camera_shake_px": 3.0}, {"zoom": 0.3}, {"lighting": 0.3}):
        f = _frames(**held, **nuisance)
        assert np.abs(f[15] - f[0]).mean() > 0.5, nuisance
    occluded = _frames(**held, occlusion=0.2)
    assert np.abs(occluded[0] - plain[0]).mean() > 1.0  # the post is drawn in front


def test_clip_ground_truth_counts_complete_cycles_only(tmp_path) -> None:
    decord = pytest.importorskip("decord")
    cfg = ObjectSceneConfig(motion="bounce", n_reps=5, period_s=0.8, fps=10.0, size=(64, 64), tempo_drift=0.5,
                            rests=[(1, 1.5)], partial_cycle_at_end=0.5)
    clip = render_object_clip(cfg, tmp_path / "ball.mp4")
    assert clip.count == 5 and len(decord.VideoReader(str(clip.path))) == clip.n_frames
    assert clip.cycles[2].start - clip.cycles[1].end == pytest.approx(1.5)  # the rest after rep 1
    lengths = [c.duration for c in clip.cycles]
    assert lengths[-1] == pytest.approx(1.5 * lengths[0])  # tempo drift slows the set
    assert clip.n_frames / cfg.fps > clip.cycles[-1].end + cfg.lead_out_s  # the cut-off cycle is after


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="motion"):
        ObjectSceneConfig(motion="spin")
    with pytest.raises(ValueError, match="even"):
        ObjectSceneConfig(size=(95, 96))


def test_prepare_objects_writes_a_benchmark_eval_reads(tmp_path) -> None:
    from countllm.eval.prepare_objects import CONDITIONS, prepare, sample_config

    rng = np.random.default_rng(0)
    names = [sample_config(i, rng)[0] for i in range(45)]
    assert len({n.split("_", 1)[1] for n in names}) == len(MOTIONS) * len(CONDITIONS)  # every pair once
    counts = [sample_config(i, np.random.default_rng(i))[1].n_reps for i in range(200)]
    assert min(counts) >= 2 and max(counts) <= 200 and np.median(counts) < 40  # log-uniform, 2–200
    csv_path = prepare(tmp_path, n=2, seed=1, max_reps=4)
    anns, errors = load_annotations(csv_path)
    assert not errors
    assert [a.name for a in anns] == sorted(p.name for p in tmp_path.glob("*.mp4"))
    assert all(len(a.cycle_frames) == a.count for a in anns)


def test_a_complete_edge_cycle_under_changing_light_is_counted(tmp_path) -> None:
    # Benchmark clip 025 (seed 0): a wheel turning 5 times while the light changes. Its first
    # cycle's embedding signal rose only 0.43 of the typical swing, under the joints' 0.45 rule.
    # How far under depends on the encoder's and the video codec's exact numbers (a later install
    # counted 5 with the old rule too), so beyond the count the rule itself is pinned: 0.35 on
    # frame embeddings only, joints keep 0.45.
    from countllm.counters.similarity_counter import SimilarityCounter, SimilarityCounterConfig
    from countllm.media import DecodeOptions, MediaInputs
    from countllm.signals.periodicity import CycleConfig

    cfg = ObjectSceneConfig(motion="rotation", n_reps=5, period_s=2.020147181956105, lead_in_s=1.9293031740225182,
                            lead_out_s=1.8737147812645119, amplitude=0.906167699055627,
                            object_size=0.18014672866856216, lighting=0.35, seed=339241798)
    clip = render_object_clip(cfg, tmp_path / "wheel.mp4")
    features = MediaInputs.open(clip.path, DecodeOptions()).frame_features()
    assert SimilarityCounter().count(features).count == clip.count == 5

    soft = SimilarityCounter().periodic_config("mobilenet_v2").cycles
    hard = SimilarityCounter(SimilarityCounterConfig(embedding_min_swing=None)).periodic_config("mobilenet_v2").cycles
    assert hard == CycleConfig() and soft.min_swing == 0.35
    assert SimilarityCounter().periodic_config("joints").cycles == CycleConfig()  # joints keep 0.45


def test_a_bystander_gestures_without_repeating() -> None:
    # The trap must be a trap: counted on its own, the person's body never earns a confident count.
    from countllm.counters.pose_counter import PoseCounter
    from countllm.synthetic.bystander import bystander_joints
    from countllm.types import Pose

    for seed in range(6):
        joints = bystander_joints(900, 30.0, np.random.default_rng(seed))
        assert np.ptp(joints[:, :, 0], axis=0).max() > 0.2  # the arms move a good deal
        result = PoseCounter().count(Pose(joints.astype(np.float32), np.ones(900, bool), 30.0, "h36m17", "bystander"))
        assert result.confidence < 0.7, (seed, result.count, result.confidence)


def test_a_bystander_stands_left_of_the_object_and_changes_no_truth() -> None:
    from countllm.eval.prepare_objects import BYSTANDER_SIZE, sample_config
    from countllm.synthetic.bystander import BystanderConfig

    held = {"motion": "slide", "n_reps": 2, "period_s": 1.0, "fps": 8.0, "lead_in_s": 1.0, "size": BYSTANDER_SIZE}
    alone, watched = (next(object_frames(ObjectSceneConfig(**held, bystander=b))[0]).astype(np.float64)
                      for b in (False, True))
    left = int(BystanderConfig().width_fraction * BYSTANDER_SIZE[0])
    assert np.abs(watched[:, :left] - alone[:, :left]).mean() > 1.0  # the person is drawn on the left
    for motion in MOTIONS:  # the object and its whole travel keep right of the person
        scene = make_scene(ObjectSceneConfig(motion=motion, size=BYSTANDER_SIZE, bystander=True),
                           np.random.default_rng(0))
        assert scene.centre[0] - scene.radius > left, motion
    for index in range(9):  # the same seed pairs every clip with its bystander twin
        name, plain = sample_config(index, np.random.default_rng(index))
        twin_name, twin = sample_config(index, np.random.default_rng(index), bystander=True)
        assert (name, plain.n_reps, plain.period_s, plain.seed) == (twin_name, twin.n_reps, twin.period_s, twin.seed)
        assert twin.bystander and twin.size == BYSTANDER_SIZE and not plain.bystander

"""Synthetic skeletons and videos: the ground truth must be exactly what the frames show."""

from __future__ import annotations

import numpy as np
import pytest

from countllm.synthetic import (
    EXERCISES,
    RenderConfig,
    SyntheticConfig,
    make_sequence,
    render_object_video,
    render_sequence,
    to_mediapipe33,
)
from countllm.synthetic import skeleton as sk

QUIET = {"lead_in_s": 0.5, "lead_out_s": 0.5, "sway_m": 0.0, "fidget_m": 0.0}


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_every_exercise_counts_and_returns_to_start(exercise: str) -> None:
    seq = make_sequence(SyntheticConfig(exercise=exercise, n_reps=3, **QUIET))
    joints = seq.clean_joints
    assert seq.count == len(seq.cycles) == len(seq.cycle_frames) == 3
    assert seq.pose.layout == "h36m17" and seq.pose.joints.shape == (len(joints), 17, 3)
    assert np.isfinite(joints).all() and seq.pose.valid.all()
    for prev, nxt in zip(seq.cycles[:-1], seq.cycles[1:]):
        assert prev.end == pytest.approx(nxt.start)  # back-to-back reps share a boundary
    starts = [f for f, _ in seq.cycle_frames]
    first, stop = seq.cycle_frames[0]
    mid = (first + stop) // 2
    assert np.abs(joints[starts] - joints[starts[0]]).max() < 0.05  # every rep starts alike
    assert np.abs(joints[mid] - joints[first]).max() > 0.2  # and really moves
    bones = np.linalg.norm(joints[:, sk.L_KNEE] - joints[:, sk.L_HIP], axis=-1)
    assert np.ptp(bones) < 1e-6  # forward kinematics keeps bone lengths


def test_cycle_frames_match_seconds() -> None:
    seq = make_sequence(SyntheticConfig(n_reps=4, fps=25.0, period_s=1.3, lead_in_s=0.7))
    for seg, (f0, f1) in zip(seq.cycles, seq.cycle_frames):
        assert f0 / 25.0 >= seg.start - 1e-9 and (f0 - 1) / 25.0 < seg.start
        assert f1 - f0 in (32, 33)  # 1.3 s at 25 fps
        assert seg.duration == pytest.approx(1.3)
    assert np.isnan(seq.phase[: seq.cycle_frames[0][0]]).all()
    assert seq.foreground.sum() == sum(b - a for a, b in seq.cycle_frames)


def test_tempo_drift_stretches_later_cycles() -> None:
    seq = make_sequence(SyntheticConfig(n_reps=6, period_s=1.0, tempo_drift=0.5))
    durations = np.array([c.duration for c in seq.cycles])
    assert np.all(np.diff(durations) > 0)
    assert durations[0] == pytest.approx(1.0) and durations[-1] == pytest.approx(1.5)


def test_rest_is_a_still_span_between_cycles() -> None:
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=4, rests=[(1, 2.0)], sway_m=0.01))
    rest = next(s for s in seq.spans if s.kind == "rest")
    assert rest.start == pytest.approx(seq.cycles[1].end) and rest.duration == pytest.approx(2.0)
    assert seq.cycles[2].start == pytest.approx(rest.end)
    f0, f1 = sk.frame_range(rest.start, rest.end, seq.config.fps)
    still = np.ptp(seq.clean_joints[f0:f1], axis=0).max()
    moving = np.ptp(seq.clean_joints[slice(*seq.cycle_frames[0])], axis=0).max()
    assert still < 0.03 and moving > 0.3
    assert any(r.start == pytest.approx(rest.start) for r in seq.rests)


def test_missing_frames_are_zero_rows_and_invalid() -> None:
    seq = make_sequence(SyntheticConfig(n_reps=4, missing_fraction=0.1, missing_gap_s=1.0, noise_std=0.01))
    valid, joints = seq.pose.valid, seq.pose.joints
    assert (~valid).sum() >= int(0.1 * len(valid))
    assert np.all(joints[~valid] == 0) and np.all(np.abs(joints[valid]).sum(axis=(1, 2)) > 0)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[1, valid.astype(int), 1]) != 0))[::2]
    assert runs.max() >= 30  # the 1 s gap at 30 fps
    assert seq.count == 4  # missing frames do not change the truth


def test_partial_cycle_at_end_is_not_counted() -> None:
    base = SyntheticConfig(exercise="squat", n_reps=3, period_s=2.0, lead_out_s=0.0, **{
        k: v for k, v in QUIET.items() if k != "lead_out_s"})  # fmt: skip
    full = make_sequence(base)
    cut = make_sequence(SyntheticConfig(**{**base.__dict__, "partial_cycle_at_end": 0.4}))
    assert cut.count == full.count == 3 and cut.cycles == full.cycles
    assert len(cut.clean_joints) - len(full.clean_joints) == pytest.approx(0.4 * 2.0 * 30, abs=1)
    assert cut.spans[-1].kind == "partial" and np.isnan(cut.phase[-10:]).all()
    assert np.abs(cut.clean_joints[-1] - cut.clean_joints[0]).max() > 0.2  # stopped mid-movement


def test_same_seed_same_sequence_other_seed_differs() -> None:
    cfg = {"n_reps": 3, "noise_std": 0.02, "missing_fraction": 0.05, "amplitude_jitter": 0.2}
    a, b = (make_sequence(SyntheticConfig(seed=7, **cfg)) for _ in range(2))
    c = make_sequence(SyntheticConfig(seed=8, **cfg))
    assert np.array_equal(a.pose.joints, b.pose.joints) and np.array_equal(a.pose.valid, b.pose.valid)
    assert not np.array_equal(a.pose.joints, c.pose.joints)


def test_scale_and_yaw() -> None:
    tall = make_sequence(SyntheticConfig(n_reps=1, body_scale=1.2, yaw_deg=0.0, **QUIET))
    side = make_sequence(SyntheticConfig(n_reps=1, yaw_deg=90.0, **QUIET))
    assert -tall.clean_joints[0, sk.HEAD, 1] == pytest.approx(
        1.2 * -side.clean_joints[0, sk.HEAD, 1], rel=1e-5
    )
    shoulders = side.clean_joints[0, sk.L_SHOULDER] - side.clean_joints[0, sk.R_SHOULDER]
    assert abs(shoulders[0]) < 1e-5 and abs(shoulders[2]) > 0.3  # side-on: shoulders line up in depth


def test_bad_config_raises() -> None:
    with pytest.raises(ValueError, match="squat"):
        make_sequence(SyntheticConfig(exercise="burpee_dance"))
    with pytest.raises(ValueError, match="partial"):
        make_sequence(SyntheticConfig(partial_cycle_at_end=1.5))
    with pytest.raises(ValueError, match="rests"):
        make_sequence(SyntheticConfig(n_reps=2, rests=[(5, 1.0)]))


def test_to_mediapipe33_layout() -> None:
    seq = make_sequence(SyntheticConfig(n_reps=2, yaw_deg=0.0, missing_fraction=0.1))
    j = seq.pose.joints
    mp = to_mediapipe33(j)
    assert mp.shape == (len(j), 33, 3) and to_mediapipe33(j[0]).shape == (33, 3)
    ok = seq.pose.valid
    assert np.allclose(mp[ok][:, 11], j[ok][:, sk.L_SHOULDER]) and np.allclose(
        mp[ok][:, 24], j[ok][:, sk.R_HIP]
    )
    assert np.all(mp[~ok] == 0)
    first = np.flatnonzero(ok)[0]
    nose, head = mp[first, 0], j[first, sk.HEAD]
    assert nose[2] > head[2] + 0.05  # facing the camera: the nose is nearer than the skull's centre
    assert mp[first, 2, 0] > mp[first, 5, 0]  # left eye on image right for a person facing us
    assert mp[first, 31, 1] > mp[first, 27, 1]  # toes below the ankle
    with pytest.raises(ValueError):
        to_mediapipe33(np.zeros((4, 33, 3)))


def test_render_writes_decodable_mp4(tmp_path) -> None:
    decord = pytest.importorskip("decord")
    seq = make_sequence(SyntheticConfig(exercise="jumping_jack", n_reps=1, fps=15.0, lead_in_s=0.2,
                                        lead_out_s=0.2, missing_gap_s=0.2))  # fmt: skip
    path = render_sequence(seq, tmp_path / "jj.mp4", RenderConfig(width=160, height=120))
    vr = decord.VideoReader(str(path))
    assert len(vr) == len(seq.clean_joints) and vr[0].shape == (120, 160, 3)
    empty = int(np.flatnonzero(~seq.pose.valid)[0])
    person = int(np.flatnonzero(seq.pose.valid)[0])
    shirt = np.array(RenderConfig().shirt)

    def n_shirt(i: int) -> int:
        return int((np.abs(vr[i].asnumpy().astype(int) - shirt).sum(-1) < 40).sum())

    assert n_shirt(person) > 50 and n_shirt(empty) == 0


def test_object_video_ground_truth(tmp_path) -> None:
    decord = pytest.importorskip("decord")
    ov = render_object_video(tmp_path / "pendulum.mp4", n_reps=4, period_s=0.6, fps=10.0, rest_s=1.0,
                             size=(64, 64))  # fmt: skip
    vr = decord.VideoReader(str(ov.path))
    assert len(vr) == ov.n_frames and ov.count == 4 == len(ov.cycles)
    assert ov.cycles[2].start - ov.cycles[1].end == pytest.approx(1.0)  # the rest in the middle
    f0, f1 = ov.cycle_frames[0]
    frames = vr.get_batch(list(range(f0, f1))).asnumpy().astype(float)
    assert np.abs(frames[len(frames) // 2] - frames[0]).mean() > 2.0  # the bob swings across

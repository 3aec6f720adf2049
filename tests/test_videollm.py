"""The video-LLM: encoder, transformer, projector, prompts, checkpoints, the training recipe.

Everything runs on a tiny random LLaMA with a tokenizer trained in a fixture (see
test_llm_backends.build_tiny_chat_model), so nothing is downloaded and each test takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from countllm import cli
from countllm.synthetic.skeleton import SyntheticConfig, make_sequence
from countllm.videollm.answer_format import UnparseableAnswer, format_exercise_answer, parse_exercise_answer
from countllm.videollm.backbone import BackboneConfig, load_backbone
from countllm.videollm.checkpoint import CheckpointError, load_checkpoint, read_config, save_checkpoint
from countllm.videollm.counter import AnswerError, VideoLLMCounter, cycles_from_density
from countllm.videollm.inputs import Sample, collate
from countllm.videollm.model import LossWeights, VideoLLM, VideoLLMConfig
from countllm.videollm.motion_encoder import MotionEncoderConfig, encode, feature_dim, lag_profiles
from countllm.videollm.periodicity_transformer import PeriodicityConfig
from countllm.videollm.projector import digit_distributions
from tests.test_llm_backends import build_tiny_chat_model

TINY_PERIODICITY = {"d_model": 32, "heads": 2, "frame_layers": 1, "queries": 4}


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return build_tiny_chat_model(tmp_path_factory.mktemp("videollm") / "tiny-llama")


@pytest.fixture(scope="module")
def tiny_model(tiny_lm) -> VideoLLM:
    torch.manual_seed(0)
    cfg = VideoLLMConfig(backbone=BackboneConfig(path=str(tiny_lm)), periodicity=PeriodicityConfig(**TINY_PERIODICITY))
    return VideoLLM(cfg, load_backbone(cfg.backbone))


@pytest.fixture(scope="module")
def squat_features():
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=6, period_s=2.0, lead_in_s=1.0, lead_out_s=1.0))
    return seq, encode(MotionEncoderConfig(), pose=seq.pose)


# ----------------------------------------------------------------------------- encoder
def test_encoder_shapes_and_rate(squat_features):
    seq, feats = squat_features
    assert feats.values.shape == (len(feats.times), feature_dim(MotionEncoderConfig()))
    assert feats.fps == 10.0 and feats.times[-1] == pytest.approx(seq.duration_s, abs=0.11)
    long = encode(MotionEncoderConfig(max_frames=50), pose=seq.pose)
    assert len(long) == 50 and long.fps < 10.0  # long clips are sampled more sparsely, never cut


def test_lag_profile_peaks_at_the_period(squat_features):
    """The class-agnostic cue: inside the repetitions, similarity peaks at lag = period (20 frames)."""
    _, feats = squat_features
    forward = feats.values[15:60, 34:34 + 64].mean(axis=0)  # frames inside the reps
    assert int(np.argmax(forward[10:40])) + 11 == pytest.approx(20, abs=1)


def test_lag_profiles_are_symmetric():
    x = np.random.default_rng(0).normal(size=(30, 3))
    prof = lag_profiles(x, 5)
    assert prof[0, 5:].sum() == 0 and prof[-1, :5].sum() == 0  # nothing beyond the ends
    assert prof[3, 1] == pytest.approx(prof[5, 5 + 1])  # sim(3, 5) seen forward from 3 and backward from 5


def test_encoder_rejects_missing_inputs(squat_features):
    seq, _ = squat_features
    with pytest.raises(ValueError, match="needs frame embeddings"):
        encode(MotionEncoderConfig(kind="both"), pose=seq.pose)
    with pytest.raises(ValueError, match="unknown encoder kind"):
        MotionEncoderConfig(kind="rgb")


# ----------------------------------------------------------------------------- projector
@pytest.mark.parametrize("count, tens, units", [(7.0, 0, 7), (23.0, 2, 3), (0.0, 0, 0), (99.0, 9, 9), (140.0, 9, 9)])
def test_digit_distributions(count, tens, units):
    t, u = digit_distributions(torch.tensor([count]), sigma=0.35)
    assert torch.allclose(t.sum(1), torch.ones(1)) and torch.allclose(u.sum(1), torch.ones(1))
    assert int(t.argmax()) == tens and int(u.argmax()) == units


def test_digit_distributions_are_differentiable():
    c = torch.tensor([6.6], requires_grad=True)
    _, u = digit_distributions(c, 0.35)
    u[0, 7].backward()
    assert c.grad is not None and float(c.grad) > 0  # more count → more mass on 7


# ----------------------------------------------------------------------------- answers
@pytest.mark.parametrize("text, name", [("Exercise: squat.", "squat"), ("Exercise: push-up.", "push-up"),
                                        (" Exercise: bench press . ", "bench press")])
def test_exercise_answer_parses(text, name):
    assert parse_exercise_answer(text) == name


@pytest.mark.parametrize("text", ["squat", "Exercise: squat", "Exercise: 5.", "The exercise is squat.", ""])
def test_exercise_answer_rejects(text):
    with pytest.raises(UnparseableAnswer):
        parse_exercise_answer(text)


def test_exercise_answer_round_trip():
    assert parse_exercise_answer(format_exercise_answer("Front Raise")) == "front raise"


def test_cycles_from_density_skip_rests():
    times = np.arange(100) / 10.0
    density = np.zeros(100)
    density[10:40] = 3 / 30  # three cycles, a rest, then two more
    density[60:80] = 2 / 20
    cycles = cycles_from_density(times, density, 5)
    assert len(cycles) == 5
    assert cycles[0].start == pytest.approx(1.0) and cycles[2].end == pytest.approx(4.0, abs=0.11)
    assert cycles[3].start == pytest.approx(6.0, abs=0.11) and cycles[4].end == pytest.approx(8.0, abs=0.11)
    assert all(b.start >= a.end for a, b in zip(cycles, cycles[1:]))  # half-open, never overlapping


# ----------------------------------------------------------------------------- model
def test_forward_losses_and_generate(tiny_model, squat_features):
    seq, feats = squat_features
    q = tiny_model.prompts.question("count")
    batch = collate([Sample(feats, "count", q, "Count: 6.", count=6.0),
                     Sample(feats, "name", tiny_model.prompts.question("name"), "Exercise: squat.")],
                    tiny_model.prompts)
    out = tiny_model(batch, LossWeights(lm=1.0, count=1.0, density=0.0))
    assert set(out.parts) == {"lm", "count"} and torch.isfinite(out.loss)
    out.loss.backward()
    assert tiny_model.periodicity.queries.grad is not None  # the LM loss reaches the visual side
    tiny_model.zero_grad()
    texts, out = tiny_model.generate(collate([Sample(feats, "count", q)], tiny_model.prompts))
    assert len(texts) == 1 and isinstance(texts[0], str) and out.count.shape == (1,)


def test_prompt_marks_video_and_template_switch(tiny_model):
    builder = tiny_model.prompts
    ids = builder.prompt_ids("count", builder.question("count"))
    text = tiny_model.backbone.tokenizer.decode(list(ids.after))
    assert "Periodicity rules" in text and "Count: N." in text
    plain = type(builder)(builder.template, builder.tokenizer, structured=False)
    prompt = tiny_model.backbone.tokenizer.decode(list(plain.prompt_ids("count", "How many?").after))
    assert "Periodicity rules" not in prompt


def test_checkpoint_round_trip(tiny_model, squat_features, tmp_path):
    _, feats = squat_features
    with torch.no_grad():  # make the adapter non-trivial so the round trip is a real check
        for name, p in tiny_model.lm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    folder = save_checkpoint(tiny_model, tmp_path / "ckpt", history=[{"stage": "test"}])
    for f in ("config.json", "periodicity.safetensors", "projector.safetensors", "adapter/adapter_config.json",
              "template.yaml", "training.json"):
        assert (folder / f).is_file(), f
    loaded = load_checkpoint(folder)
    before = {n: p for n, p in tiny_model.named_parameters() if "lora_" in n or not n.startswith("lm.")}
    after = dict(loaded.named_parameters())
    assert before and all(torch.equal(p, after[n]) for n, p in before.items())
    tiny_model.eval()
    batch = collate([Sample(feats, "count", "How many?")], tiny_model.prompts)
    assert tiny_model.generate(batch)[0] == loaded.generate(batch)[0]
    assert read_config(folder) == tiny_model.cfg


def test_missing_checkpoint_names_the_fix(tmp_path):
    with pytest.raises(CheckpointError, match="countllm finetune"):
        load_checkpoint(tmp_path / "nothing")


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown video-LLM config keys"):
        VideoLLMConfig.from_dict({"encoderr": {}})


# ----------------------------------------------------------------------------- the recipe
def _tiny_stage(tmp_path: Path, lm: Path, steps: tuple[int, int] = (16, 4)) -> Path:
    config = {
        "stage": "smoke", "output_dir": str(tmp_path / "run"),
        "model": {"backbone": {"path": str(lm)}, "periodicity": TINY_PERIODICITY},
        "data": {"synthetic_clips": 10}, "tasks": {"count": 1.0, "name": 0.5},
        "phases": [
            {"name": "density", "steps": steps[0], "batch_size": 4, "loss": {"lm": 0.0, "count": 1.0, "density": 1.0},
             "train": ["periodicity"], "lr": 0.003, "warmup_steps": 1},
            {"name": "joint", "steps": steps[1], "batch_size": 2, "loss": {"lm": 1.0, "count": 0.5}, "lr": 0.001},
        ],
        "validation": {"synthetic_clips": 3}, "checkpoint_every": 4, "log_every": 1,
    }
    path = tmp_path / "stage.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _log(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]


def test_recipe_smoke_trains_saves_and_resumes(tmp_path, tiny_lm, capsys):
    config = _tiny_stage(tmp_path, tiny_lm)
    assert cli.main(["finetune", "--config", str(config)]) == 0
    final = tmp_path / "run" / "final"
    for f in ("config.json", "periodicity.safetensors", "projector.safetensors", "adapter/adapter_model.safetensors",
              "template.yaml", "stage.yaml", "training.json"):
        assert (final / f).is_file(), f
    records = _log(tmp_path)
    density = [r["loss"] for r in records if r.get("phase") == "density" and "loss" in r]
    assert len(density) == 16 and np.mean(density[-4:]) < np.mean(density[:4])  # the loss fell
    validations = [r["validation"] for r in records if "validation" in r]
    assert len(validations) == 2 and "answer_parse_rate" in validations[-1]
    assert json.loads((final / "training.json").read_text())[-1]["stage"] == "smoke"
    # resume: a longer second phase continues from last/ instead of starting over
    config2 = _tiny_stage(tmp_path, tiny_lm, steps=(16, 6))
    assert cli.main(["finetune", "--config", str(config2)]) == 0
    start = [r for r in _log(tmp_path) if r.get("event") == "start"]
    assert start[-1]["resumed_at"] == 20
    steps_after_resume = [r["step"] for r in _log(tmp_path)[len(records):] if "loss" in r]
    assert steps_after_resume == [21, 22]


def test_finetune_bad_config_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"stage": "x", "output_dir": str(tmp_path), "tasks": {"count": 1},
                                   "phases": [{"name": "p", "steps": 1, "trian": ["lora"]}]}))
    assert cli.main(["finetune", "--config", str(bad)]) == 2
    assert "unknown keys ['trian']" in capsys.readouterr().err


def test_override_changes_the_config(tmp_path, tiny_lm):
    from countllm.finetune.config import load_stage_config

    cfg, raw = load_stage_config(_tiny_stage(tmp_path, tiny_lm), ["phases.0.steps=3", "data.synthetic_clips=2"])
    assert cfg.phases[0].steps == 3 and cfg.data.synthetic_clips == 2 and raw["phases"][0]["steps"] == 3


RECIPES = sorted((Path(__file__).parents[1] / "finetune" / "recipes").glob("*/*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[f"{p.parent.name}/{p.name}" for p in RECIPES])
def test_every_recipe_is_valid(path):
    import yaml

    from countllm.finetune.config import load_stage_config

    kind = yaml.safe_load(path.read_text()).get("kind")
    if kind == "lift":  # the recognizer's recipes have their own loader
        from countllm.finetune.lift_train import load_config

        load_config(path, [])
        return
    if kind == "lift_add_exercise":  # a template: examples= and name= come from the command line
        from countllm.finetune.lift_add_exercise import load_config as load_add

        assert load_add(path, [], check_inputs=False).examples is None
        return
    cfg, _ = load_stage_config(path)
    assert cfg.total_steps > 0 and cfg.tasks and (cfg.init_from or cfg.model)
    if cfg.model:
        VideoLLMConfig.from_dict(cfg.model)


# ----------------------------------------------------------------------------- as a counter
def test_unparseable_answer_is_an_error_not_a_number(tmp_path, tiny_model, squat_h36m_file, capsys):
    folder = save_checkpoint(tiny_model, tmp_path / "random")
    with pytest.raises(AnswerError, match="standardized format"):
        VideoLLMCounter(folder).count(make_sequence(SyntheticConfig(n_reps=3)).pose)
    code = cli.main(["count", str(squat_h36m_file), "--method", "videollm", "--model", str(folder)])
    assert code == 2 and "video-LLM's answer" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the shipped default
def test_shipped_default_counts_and_evaluates(tmp_path, squat_h36m_file, squat_sequence, capsys):
    """`--method videollm` works out of the box: the trained default + SmolLM2 from the wheel."""
    code = cli.main(["count", str(squat_h36m_file), "--method", "videollm", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["method"] == "videollm"
    assert abs(payload["count"] - squat_sequence.count) <= 1
    assert len(payload["cycles"]) == payload["count"] and any("video-LLM answer" in n for n in payload["notes"])
    csv = tmp_path / "ann.csv"
    csv.write_text(f"type,name,count\nsquat,{squat_h36m_file.name},{squat_sequence.count}\n"
                   "squat,missing.npy,3\n")
    assert cli.main(["eval", "--annotations", str(csv), "--media-dir", str(squat_h36m_file.parent),
                     "--method", "videollm", "--json", str(tmp_path / "r.json")]) == 3  # finished, one item failed
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["metrics"]["n_items"] == 2 and report["metrics"]["n_failed"] == 1  # the missing file, recorded


# ----------------------------------------------------------------------------- training data
def test_real_clips_are_split_and_augmented(tmp_path, squat_sequence):
    from countllm.finetune.data import DataConfig, real_clips, split_of

    names = [f"clip{i}.npy" for i in range(12)]
    for n in names:
        np.save(tmp_path / n, squat_sequence.pose.joints)
    frames = [f"{int(c.start * 30)},{int(c.end * 30)}" for c in squat_sequence.cycles]
    header = "type,name,count," + ",".join(f"L{i}" for i in range(1, 2 * len(frames) + 1))
    rows = [f"squat,{n},{squat_sequence.count},{','.join(frames)}" for n in names]
    (tmp_path / "a.csv").write_text("\n".join([header, *rows]) + "\n")
    cfg = DataConfig(real_annotations=str(tmp_path / "a.csv"), real_speeds=(0.5,), real_mirror=True)
    train, val = real_clips(cfg, MotionEncoderConfig(), "train"), real_clips(cfg, MotionEncoderConfig(), "val")
    n_val = sum(split_of(n, cfg.val_fraction) == "val" for n in names)
    assert len(val) == n_val and len(train) == 4 * (12 - n_val)  # itself, half speed, and both mirrored
    assert not {c.source for c in val} & {c.source.split("@")[0] for c in train}
    slow = next(c for c in train if c.source.endswith("@x0.5"))
    plain = next(c for c in train if "@" not in c.source)
    assert slow.duration_s == pytest.approx(2 * plain.duration_s, rel=1e-6)
    assert slow.cycles[0].start == pytest.approx(2 * plain.cycles[0].start)
    assert float(slow.density.sum()) == pytest.approx(squat_sequence.count, abs=1e-4) and slow.action == "squat"


def test_mirror_swaps_sides():
    from countllm.finetune.data import augmented_poses
    from countllm.pose.layouts import H36M
    from countllm.types import Pose

    j = np.zeros((3, 17, 3), np.float32)
    j[:, H36M["l_wrist"], 0] = 1.0
    (_, _), (_, mirrored) = augmented_poses(Pose(j, np.ones(3, bool), 30.0, "h36m17"), (), True)
    assert mirrored.joints[0, H36M["r_wrist"], 0] == -1.0 and mirrored.joints[0, H36M["l_wrist"], 0] == 0.0

"""Re-create the bundled sample video from the synthetic generator (exact ground truth).

    .venv/bin/python samples/make_samples.py
"""

from pathlib import Path

from countllm.synthetic import RenderConfig, SyntheticConfig, make_sequence, render_sequence

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=6, rests=[(2, 3.0)], tempo_drift=0.3,
                                        lead_in_s=1.0, lead_out_s=1.0, fps=30.0, seed=7))
    path = render_sequence(seq, HERE / "squats.mp4", RenderConfig())
    cycles = ", ".join(f"{c.start:.2f}-{c.end:.2f}" for c in seq.cycles)
    (HERE / "squats.txt").write_text(f"squats.mp4: synthetic squats, ground truth {seq.count} reps; "
                                     f"cycles (s): {cycles}\n")
    print(path, seq.count, "reps")

"""Progressive multimodal LoRA training of the CountLLM video-LLM (docs/design.md §1).

Installed as `countllm.finetune`: one YAML recipe per stage (`recipes/`), run by `train.setup`
(`countllm finetune`), with the training data (`data`), validation and the train/val split.
The core library never imports this package.
"""

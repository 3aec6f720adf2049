"""Progressive multimodal LoRA training of the CountLLM video-LLM (issue #3).

Installed as `countllm.finetune`. Nothing here yet: the recipes arrive with the video-LLM.
The core library never imports this package.
"""

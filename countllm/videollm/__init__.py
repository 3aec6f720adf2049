"""The CountLLM video-LLM (docs/design.md §1): counting as language generation.

`model` joins the parts: `motion_encoder` (frozen) → `periodicity_transformer` → `projector` →
`backbone` (LoRA LM); `prompting` and `answer_format` hold the template and the strict parser of
the standardized answer, `checkpoint` saves and loads the trained parts, and `counter` turns an
answer into a `CountResult`.
"""

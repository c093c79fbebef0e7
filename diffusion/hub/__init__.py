"""Checkpoints leaving and entering: model cards, publishing to the Hugging Face Hub, and the
validation of uploaded checkpoints."""

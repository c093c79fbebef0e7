"""Measured quality of a checkpoint: the tables of `python -m diffusion.evaluate`."""

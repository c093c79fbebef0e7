"""Arrays -> pictures: panels, grids, captions (numpy and Pillow) and plots (matplotlib).
No tensors, no worlds: callers pass numpy arrays."""

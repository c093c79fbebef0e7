"""The diffusion math: noise schedules, the forward and reverse process (`GaussianDiffusion`),
guidance, the sampling loop and its frames, and the quality measures. torch and numpy only."""

"""Every denoiser behind one contract, `model(x_t, t, y) -> eps` (the 2D MLP, the U-Net, the exact
denoiser of a finite data set), the LeNet judge, their shared layers and checkpoint save/load."""

"""Training: the one loop (`Trainer`), what is trained (`tasks`), the presets, and the app's live
training jobs."""

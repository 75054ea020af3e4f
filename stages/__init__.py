"""mnist-dvc: one script per DVC stage; the shared logic lives in stages.lib."""

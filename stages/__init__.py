"""mnist-dvc: one script per DVC stage; the logic they call lives in stages.lib's packages."""

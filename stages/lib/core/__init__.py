"""Shared by every stage: typed params and their errors, paths, the entry point, artifact and model files.
May import: nothing else of stages."""

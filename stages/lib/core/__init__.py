"""Shared by every stage: typed params and errors, paths, the entry point, artifact/model files, intervals.
May import: nothing else of stages."""

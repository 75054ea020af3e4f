"""The logic the stage scripts call, one package per job in DAG order: core, data, training,
inspection, search, report. Each package's docstring names the packages it may import, and
tests/test_layout.py holds it to that."""

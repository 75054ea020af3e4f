"""Where each stage reads and writes; dvc.yaml declares the same paths."""

from pathlib import Path

RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")
SPLIT_DIR = Path("data/split")
MODELS_DIR = Path("models")
METRICS_DIR = Path("metrics")

BEST_CONFIG = MODELS_DIR / "best_config.json"


def model_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.keras"

"""export and serve: a trained model in SavedModel, LiteRT and ONNX, checked in each runtime; the web app.
May import: core, data."""

from stages.lib.cli import configure_tensorflow

configure_tensorflow()  # as the stage scripts do, before any test imports TensorFlow

"""Building and fitting Keras models from specs (training stages, search trials): input stream, tf.distribute.
May import: core."""

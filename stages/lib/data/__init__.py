"""download, preprocess, split and predict's input: fetching, IDX files, splitting, a user's pictures.
May import: core."""

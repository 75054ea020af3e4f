"""download, preprocess, split and predict's input: fetching, archives, IDX files, picture folders.
May import: core."""

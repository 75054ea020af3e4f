"""download, preprocess, split and predict's input: fetching, unpacking archives, IDX
files, folders of pictures, splitting, a user's pictures.
May import: core."""

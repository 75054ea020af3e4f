"""inspect: what the data holds: class balance, odd pictures, copies and doubtful labels.
May import: core, data, training."""

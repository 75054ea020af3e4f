"""cv_search: the searchable spaces, Optuna studies shared through a database, what one trial trains.
May import: core, training."""

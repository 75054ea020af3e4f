"""bless, export and serve: released versions, formats checked in each runtime, the model card, the web app.
May import: core, data."""

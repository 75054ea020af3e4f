"""bless, export, predict and serve: releases, formats run in each runtime, the model card, the web app.
May import: core, data."""

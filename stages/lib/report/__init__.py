"""evaluate and predict: test metrics, the choice of final, the report's figures, tables and Markdown.
May import: core."""

"""Stage 3, render: the Jinja environment, what templates see, and the record of what they read."""

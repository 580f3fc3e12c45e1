"""Stage 1, load: read the files editors write and check them into the site model."""

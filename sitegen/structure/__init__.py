"""Stage 2, model: the pages the site will have, its photos, the Markdown bodies and their links."""

"""sitegen: a static news-site generator for Vietnamese provincial news portals."""

__version__ = "0.1.0"

"""The editors' live preview server."""

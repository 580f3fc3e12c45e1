"""Readers' figures: the collector service and what a build takes from it."""

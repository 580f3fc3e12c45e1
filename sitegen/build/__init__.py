"""The build itself (pipeline) and its machinery: inputs, cache, dependencies, workers, writing, search, lock."""

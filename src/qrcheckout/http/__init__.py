"""The HTTP edge: mapping domain errors to responses, request limits, typed dependencies."""

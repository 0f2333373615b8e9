"""Health: the worker's tick and the checks /healthz reports."""

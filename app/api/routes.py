from app.api import bp  # noqa: F401  (endpoints land with the API work)

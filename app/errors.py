"""The errors every layer raises, and the one HTTP answer each kind maps to.

A rule raises one of these with words for people (`message`) and, for bad input, each bad
field with what is wrong with it (`fields`). A page's route turns it into a form's errors or
a flash; whatever a route lets through, and everything the API raises, is answered in one
place (`app/__init__.py`) with the kind's `status` and the JSON body `as_api()`.
"""


class StagegateError(Exception):
    """Base of the domain errors: a change the rules refuse; `message` is for people."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def as_api(self) -> dict:
        """The JSON body of this error's HTTP answer."""
        return {"error": self.code, "message": self.message}


class Invalid(StagegateError):
    """Bad input, or a change the rules do not allow as asked: `fields` maps each bad field to its message."""

    status = 422
    code = "invalid"

    def __init__(self, fields: dict | None = None, message: str = "Some values are not valid."):
        super().__init__(message, fields)

    def as_api(self) -> dict:
        return {**super().as_api(), "fields": self.fields}


class Forbidden(StagegateError):
    """The actor's role or ownership does not allow this."""

    status = 403
    code = "forbidden"

    def __init__(self, message: str):
        super().__init__(message)


class Conflict(StagegateError):
    """Someone else changed the deal since this writer read it."""

    status = 409
    code = "conflict"

    def __init__(self, deal_id: int, message: str = (
            "This deal was changed by someone else since you opened it. "
            "Its current state is shown; review it and try again.")):
        super().__init__(message)
        self.deal_id = deal_id

    def as_api(self) -> dict:
        return {**super().as_api(), "deal_id": self.deal_id}


class GateRefused(StagegateError):
    """The move needs facts the deal does not have (or sent facts are invalid).

    `missing` lists the unmet requirements (each with `as_missing()`), `kind` the move's kind
    and `to_stage` where it was going.
    """

    status = 422
    code = "gate"

    def __init__(self, message, missing, fields=None, kind=None, to_stage=None):
        super().__init__(message, fields)
        self.missing = missing
        self.kind = kind
        self.to_stage = to_stage

    def as_api(self) -> dict:
        return {**super().as_api(), "missing": [r.as_missing() for r in self.missing], "fields": self.fields}

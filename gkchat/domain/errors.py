"""Domain errors. Each carries a stable snake_case code and a human sentence.

The HTTP edge maps each class to a status code (see ``gkchat.api.errors``); services and storage
never mention HTTP.
"""


class DomainError(Exception):
    """Base of every error a caller can cause."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    code = "invalid_input"


class TooLarge(DomainError):
    code = "too_large"


class NotAuthenticated(DomainError):
    code = "not_authenticated"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class Unavailable(DomainError):
    """A dependency (the database) cannot be reached right now; the caller may retry."""

    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)

"""Shape rules for usernames and email addresses."""

import re

from email_validator import EmailNotValidError, validate_email

from gkchat.domain.errors import InvalidInput

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.]{3,32}$")
EMAIL_MAX_LENGTH = 254


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise InvalidInput(
            "Usernames are 3 to 32 letters (a-z, A-Z), digits, '_' or '.'.",
            code="invalid_username",
        )
    return username


def normalise_email(email: str) -> str:
    """Validate ``email`` (syntax only, no DNS) and return its normalised form."""
    if len(email) > EMAIL_MAX_LENGTH:
        raise InvalidInput("That email address is too long.", code="invalid_email")
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(f"That email address is not valid: {exc}", code="invalid_email") from exc

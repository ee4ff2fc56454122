"""Reading a new password for a command: from a prompt, or from stdin when piped."""

from __future__ import annotations

import getpass
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from twostep.accounts.models import User


def read_new_password(stdin_flag: bool, user: User | None = None) -> str:
    """The password, checked by AUTH_PASSWORD_VALIDATORS against ``user`` (an unsaved one
    with the email and name is enough for the similarity check)."""
    if stdin_flag or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise CommandError(" ".join(exc.messages)) from exc
    return password

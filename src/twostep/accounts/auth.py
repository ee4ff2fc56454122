from __future__ import annotations

from django.http import HttpRequest

from twostep.accounts.models import User


def signed_in_user(request: HttpRequest) -> User:
    """The fully signed-in user of a view behind ``login_required``."""
    user = request.user
    assert isinstance(user, User), "use behind login_required"
    return user

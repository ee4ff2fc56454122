"""SESSION_ENGINE without Redis: Django's database store with WriteOnceMixin."""

from django.contrib.sessions.backends import db

from twostep.accounts.session_backends import WriteOnceMixin


class SessionStore(WriteOnceMixin, db.SessionStore):
    pass

"""SESSION_ENGINE with Redis: Django's cached_db store with WriteOnceMixin."""

from django.contrib.sessions.backends import cached_db

from twostep.accounts.session_backends import WriteOnceMixin


class SessionStore(WriteOnceMixin, cached_db.SessionStore):
    pass

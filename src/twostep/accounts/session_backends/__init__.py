"""Django's database session stores, minus a second write of the same session in a request.

The sign-in steps save the session inside the transaction that changes it (the new key after
the code, the pending login after the password), so that a step is one write transaction;
``SESSION_SAVE_EVERY_REQUEST`` then asks the store to save it again at the end of the request.
That write would only repeat the same row, so it is skipped when the key and the data are
what this store last wrote. Any change after that write is saved as usual.
"""

from __future__ import annotations

from typing import Any


class WriteOnceMixin:
    """For a SessionStore: ``save`` skips a write identical to this request's last one."""

    _last_written: tuple[str | None, bytes] | None = None

    def _snapshot(self) -> tuple[str | None, bytes]:
        store: Any = self
        return store.session_key, store.serializer().dumps(store._get_session())

    def save(self, must_create: bool = False) -> None:
        if not must_create and self._last_written == self._snapshot():
            return
        super().save(must_create)  # type: ignore[misc]
        self._last_written = self._snapshot()

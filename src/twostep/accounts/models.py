"""Offices and their users. The email address is the login name."""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


def normalise_email(email: str) -> str:
    """One account per address whatever its case: ``Alice@Example.com`` is ``alice@example.com``."""
    return email.strip().lower()


def new_security_stamp() -> str:
    return secrets.token_hex(16)


class Office(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Office 2FA policy (twostep.administration.policy): everyone must have 2FA, with a grace
    # period counted from when the policy was turned on (or the user joined, if later).
    require_2fa_since = models.DateTimeField(null=True, blank=True)
    grace_days = models.PositiveSmallIntegerField(default=14)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalise_email(username or ""))

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=normalise_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        OFFICE_ADMIN = "office_admin", _("Office admin")

    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=200)
    office = models.ForeignKey(
        Office, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # The language chosen with the footer's switcher; blank = the browser's choice.
    language = models.CharField(max_length=10, blank=True, choices=settings.LANGUAGES)
    # Part of the session hash: changing it signs out every other session.
    security_stamp = models.CharField(max_length=32, default=new_security_stamp, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        ordering = ["email"]
        # Administration > Manage users pages through an office by name.
        indexes = [
            models.Index(fields=["office", "full_name", "email"], name="accounts_user_office_name")
        ]
        permissions = [("helpdesk_agent", "Can look up users and reset their 2FA")]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalise_email(self.email)
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name

    @property
    def is_office_admin(self) -> bool:
        return self.role == self.Role.OFFICE_ADMIN and self.office_id is not None

    @property
    def is_helpdesk_agent(self) -> bool:
        return self.is_active and self.is_staff and self.has_perm("accounts.helpdesk_agent")

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's session hash, extended with the security stamp (see rotate_security_stamp)."""
        key_salt = "twostep.accounts.User.get_session_auth_hash"
        return salted_hmac(
            key_salt, f"{self.password}:{self.security_stamp}", secret=secret, algorithm="sha256"
        ).hexdigest()

    def rotate_security_stamp(self) -> None:
        """Invalidate every session of this user; the caller re-hashes the current one."""
        self.security_stamp = new_security_stamp()
        self.save(update_fields=["security_stamp"])


class PasswordFailure(models.Model):
    """One wrong email or password at sign-in, for the password-step limits (accounts.throttle).

    Keyed by the login name as typed (normalised), so unknown addresses are limited exactly like
    real ones and the limit reveals nothing about which accounts exist.
    """

    login_name = models.CharField(max_length=254)
    client_address = models.CharField(max_length=45, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["login_name", "at"]),
            models.Index(fields=["client_address", "at"]),
        ]

    def __str__(self) -> str:
        return f"Password failure for {self.login_name} at {self.at:%Y-%m-%d %H:%M:%S}"

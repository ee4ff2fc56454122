"""The operators' management commands (helpdesk reset C19/S54, key ring S21, setup)."""

from __future__ import annotations

import io
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from tests.conftest import PASSWORD, SEED20, FrozenClock, enable_two_factor, log_in_password
from twostep.accounts.management.commands.create_helpdesk_agent import make_agent
from twostep.accounts.models import Office, User
from twostep.audit.models import EventKind, SecurityEvent
from twostep.twofactor.enrolment import start_enrolment
from twostep.twofactor.keyring import KeyRing
from twostep.twofactor.models import GuessingState, PendingEnrolment, TwoFactorDevice
from twostep.twofactor.storage import unseal


def run(*args: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- create_office / create_user / create_helpdesk_agent ---------------------------------


def test_create_office(db: None) -> None:
    output = run("create_office", "  Schmidt & Söhne  ")
    assert "Created office 'Schmidt & Söhne'" in output
    assert Office.objects.filter(name="Schmidt & Söhne").count() == 1
    with pytest.raises(CommandError, match="exists already"):
        run("create_office", "Schmidt & Söhne")
    with pytest.raises(CommandError, match="1 to 200 characters"):
        run("create_office", "   ")
    with pytest.raises(CommandError, match="1 to 200 characters"):
        run("create_office", "x" * 201)
    assert Office.objects.count() == 1


def test_create_user_with_role_and_password_from_stdin(
    office: Office, monkeypatch: pytest.MonkeyPatch, frozen_clock: FrozenClock
) -> None:
    output = run(
        "create_user",
        "Olga@Example.com",
        "--name",
        "Olga Admin",
        "--office",
        office.name,
        "--role",
        "office_admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        monkeypatch=monkeypatch,
    )
    assert "Created office_admin olga@example.com" in output
    user = User.objects.get(email="olga@example.com")
    assert user.full_name == "Olga Admin"
    assert user.office == office and user.is_office_admin
    assert user.check_password(PASSWORD)
    assert PASSWORD not in output
    client = Client()
    assert log_in_password(client, "olga@example.com").url == "/"


def test_create_user_defaults_to_member(office: Office, monkeypatch: pytest.MonkeyPatch) -> None:
    run(
        "create_user",
        "max@example.com",
        "--name",
        "Max Member",
        "--office",
        office.name,
        stdin=PASSWORD + "\n",
        monkeypatch=monkeypatch,
    )
    assert User.objects.get(email="max@example.com").role == User.Role.MEMBER


@pytest.mark.parametrize("weak", ["password", "short", "12345678901234", ""])
def test_create_user_refuses_a_weak_password(
    office: Office, monkeypatch: pytest.MonkeyPatch, weak: str
) -> None:
    with pytest.raises(CommandError):
        run(
            "create_user",
            "max@example.com",
            "--name",
            "Max Member",
            "--office",
            office.name,
            "--password-stdin",
            stdin=weak + "\n",
            monkeypatch=monkeypatch,
        )
    assert not User.objects.filter(email="max@example.com").exists()


@pytest.mark.parametrize("password", ["olga.admin@example.com", "olga.admin.example"])
def test_create_user_refuses_a_password_like_the_email_or_name(
    office: Office, monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    """AUTH_PASSWORD_VALIDATORS includes UserAttributeSimilarityValidator: a password that
    is the user's own email address or name must be refused by the command too."""
    with pytest.raises(CommandError):
        run(
            "create_user",
            "olga.admin@example.com",
            "--name",
            "Olga Admin",
            "--office",
            office.name,
            "--password-stdin",
            stdin=password + "\n",
            monkeypatch=monkeypatch,
        )
    assert not User.objects.filter(email="olga.admin@example.com").exists()


def test_create_user_refuses_an_unknown_office(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CommandError, match="No office named"):
        run(
            "create_user",
            "max@example.com",
            "--name",
            "Max",
            "--office",
            "Nowhere Ltd",
            "--password-stdin",
            stdin=PASSWORD + "\n",
            monkeypatch=monkeypatch,
        )
    assert not User.objects.filter(email="max@example.com").exists()


def test_create_user_refuses_a_duplicate_email_in_other_case(
    alice: User, office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CommandError, match="exists already"):
        run(
            "create_user",
            "ALICE@Example.COM",
            "--name",
            "Alice Again",
            "--office",
            office.name,
            "--password-stdin",
            stdin="another good passphrase 77\n",
            monkeypatch=monkeypatch,
        )
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    assert User.objects.get(email="alice@example.com").full_name == "Alice Example"


def test_create_user_refuses_an_invalid_email(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CommandError, match="not an email address"):
        run(
            "create_user",
            "not-an-email",
            "--name",
            "X",
            "--office",
            office.name,
            stdin=PASSWORD + "\n",
            monkeypatch=monkeypatch,
        )


def test_create_helpdesk_agent(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    output = run(
        "create_helpdesk_agent",
        "Hal@Helpdesk.example",
        "--name",
        "Hal Helpdesk",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        monkeypatch=monkeypatch,
    )
    assert "Created helpdesk agent hal@helpdesk.example" in output
    assert "turned on 2FA (Manage 2FA > Enable 2FA)" in output
    agent = User.objects.get(email="hal@helpdesk.example")
    assert agent.is_helpdesk_agent and agent.is_staff and not agent.is_superuser
    assert agent.office is None
    assert agent.check_password(PASSWORD)
    with pytest.raises(CommandError, match="exists already"):
        run(
            "create_helpdesk_agent",
            "HAL@helpdesk.example",
            "--name",
            "Hal Again",
            stdin=PASSWORD + "\n",
            monkeypatch=monkeypatch,
        )


# --- twofa_status ------------------------------------------------------------------------


def test_twofa_status_off_on_and_locked(alice: User, frozen_clock: FrozenClock) -> None:
    assert run("twofa_status", "Alice@Example.com").strip() == "alice@example.com: 2FA disabled"
    enable_two_factor(alice)
    output = run("twofa_status", "alice@example.com")
    assert output.splitlines() == [
        "alice@example.com: 2FA enabled since 2005-03-18 01:58 UTC, "
        "last code accepted 2005-03-18 01:58 UTC"
    ]
    assert "GEZDGNBV" not in output  # never the key
    GuessingState.objects.create(user=alice, consecutive_failures=100, locked_at=frozen_clock.now)
    assert "The code step is locked" in run("twofa_status", "alice@example.com")
    with pytest.raises(CommandError, match="No user"):
        run("twofa_status", "nobody@example.com")


# --- reset_2fa ---------------------------------------------------------------------------


def test_c19_reset_2fa_needs_a_reason(alice_with_totp: User) -> None:
    """C19: the command line reset also needs a ticket reference."""
    with pytest.raises(CommandError, match="--reason"):
        run("reset_2fa", "alice@example.com")
    with pytest.raises(CommandError, match="reason"):
        run("reset_2fa", "alice@example.com", "--reason", "   ")
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    assert not SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_RESET).exists()
    assert mail.outbox == []


def test_c19_s54_reset_2fa_disables_records_and_emails(
    alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    """C19/S54: the CLI reset clears 2FA, writes the event (actor: command line) and
    emails the user."""
    output = run("reset_2fa", "ALICE@example.com", "--reason", "TICKET-123 lost phone")
    assert "2FA disabled for alice@example.com" in output
    assert not TwoFactorDevice.objects.filter(user=alice_with_totp).exists()
    [event] = SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_RESET)
    assert event.subject == alice_with_totp
    assert event.actor is None and event.actor_label == "command line"
    assert event.reason == "TICKET-123 lost phone"
    assert event.at == frozen_clock.now
    [message] = [m for m in mail.outbox if m.to == [alice_with_totp.email]]
    assert "Support removed" in message.subject
    assert "TICKET-123 lost phone" in message.body
    client = Client()
    assert log_in_password(client, "alice@example.com").url == "/"

    again = run("reset_2fa", "alice@example.com", "--reason", "TICKET-124")
    assert "had no 2FA; nothing changed" in again
    assert SecurityEvent.objects.filter(kind=EventKind.TWO_FACTOR_RESET).count() == 1


def test_reset_2fa_names_the_agent_and_refuses_a_non_agent(
    alice_with_totp: User, make_user: Callable[..., User]
) -> None:
    make_user("bob@example.com", full_name="Bob Member")
    with pytest.raises(CommandError, match="not a helpdesk agent"):
        run("reset_2fa", "alice@example.com", "--reason", "T-1", "--agent", "bob@example.com")
    with pytest.raises(CommandError, match="No user"):
        run("reset_2fa", "nobody@example.com", "--reason", "T-1")
    assert TwoFactorDevice.objects.filter(user=alice_with_totp).exists()

    agent = make_agent("hal@helpdesk.example", "Hal Helpdesk", PASSWORD)
    run("reset_2fa", "alice@example.com", "--reason", "T-2", "--agent", "HAL@helpdesk.example")
    event = SecurityEvent.objects.get(kind=EventKind.TWO_FACTOR_RESET)
    assert event.actor == agent and event.actor_label == agent.email


# --- rotate_keyring ----------------------------------------------------------------------


def test_s21_rotate_keyring_reencrypts_every_key_and_logins_keep_working(
    alice_with_totp: User, make_user: Callable[..., User], frozen_clock: FrozenClock
) -> None:
    """S21: put a new key first and the old one second, rotate: every stored key gets the
    new prefix, still decrypts to the same TOTP key, and a login with a code still works,
    even after the old key is dropped from the ring."""
    old_ring = settings.TWOSTEP_KEY_RING
    old_id = KeyRing.parse(old_ring).primary_id
    new_id = "rot" + ("b" if old_id == "rota" else "a")
    new_entry = KeyRing.generate_entry(new_id)
    bob = make_user("bob@example.com", full_name="Bob Example")
    bob_pending = start_enrolment(bob)
    bob_key = unseal(bob.pk, bob_pending.encrypted_key)
    before = {
        "device": TwoFactorDevice.objects.get(user=alice_with_totp).encrypted_key,
        "pending": bob_pending.encrypted_key,
    }
    assert all(token.startswith(f"{old_id}$") for token in before.values())

    with override_settings(TWOSTEP_KEY_RING=f"{new_entry},{old_ring}"):
        output = run("rotate_keyring")
        assert f"Re-encrypted 2 keys with key {new_id}" in output
        device = TwoFactorDevice.objects.get(user=alice_with_totp).encrypted_key
        pending = PendingEnrolment.objects.get(user=bob).encrypted_key
        assert device.startswith(f"{new_id}$") and pending.startswith(f"{new_id}$")
        assert device != before["device"] and pending != before["pending"]
        assert unseal(alice_with_totp.pk, device) == SEED20
        assert unseal(bob.pk, pending) == bob_key
        assert "Re-encrypted 0 keys" in run("rotate_keyring")  # idempotent
        event = SecurityEvent.objects.filter(kind=EventKind.KEYS_ROTATED).first()
        assert event is not None and new_id in event.reason

    with override_settings(TWOSTEP_KEY_RING=new_entry):  # old key dropped
        client = Client()
        assert log_in_password(client, alice_with_totp.email).url == "/login/code/"
        response = client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
        assert response.status_code == 302 and response.url == "/"


def test_rotate_keyring_new_key_prints_a_usable_entry(db: None) -> None:
    entry = run("rotate_keyring", "--new-key").strip()
    ring = KeyRing.parse(entry)
    assert ring.primary_id == entry.split(":")[0]
    assert not SecurityEvent.objects.filter(kind=EventKind.KEYS_ROTATED).exists()


# --- ensure_demo -------------------------------------------------------------------------


def test_ensure_demo_creates_office_and_three_users_once(db: None, tmp_path: Path) -> None:
    with override_settings(DATA_DIR=tmp_path):
        output = run("ensure_demo")
        notes = tmp_path / "demo-accounts.txt"
        assert notes.exists()
        assert stat.S_IMODE(notes.stat().st_mode) == 0o600
        office = Office.objects.get(name="Demo Office")
        users = {u.email: u for u in User.objects.all()}
        assert set(users) == {
            "admin@demo.example",
            "member@demo.example",
            "helpdesk@demo.example",
        }
        assert users["admin@demo.example"].office == office
        assert users["admin@demo.example"].is_office_admin
        assert users["member@demo.example"].role == User.Role.MEMBER
        assert users["helpdesk@demo.example"].is_helpdesk_agent
        text = notes.read_text()
        line = next(x for x in text.splitlines() if "member@demo.example" in x)
        password = line.split()[-1]
        assert users["member@demo.example"].check_password(password)
        assert "Demo Office" in output
        assert "The helpdesk opens only once the agent has 2FA on" in output

        second = run("ensure_demo")
        assert "Existing data kept" in second
        assert User.objects.count() == 3 and Office.objects.count() == 1
        assert notes.read_text() == text

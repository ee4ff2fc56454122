"""Languages: English, Dutch and French for every page, message and email.

The catalogues are complete (every entry translated, nothing fuzzy, placeholders kept); every
page a visitor, a pending login, a signed-in user, an office admin and a helpdesk agent can
reach renders in Dutch and French without an English sentence of the catalogue left in it;
the switcher's choice is remembered per user; emails are written in the user's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client

from tests.conftest import (
    AGENT_KEY,
    PASSWORD,
    SEED20,
    FrozenClock,
    enable_two_factor,
    log_in_password,
    make_enrolled_agent,
)
from tests.twofa_flows import (
    CONFIRM,
    DISABLE,
    MANAGE,
    MANAGE_USERS,
    SETUP,
    START,
    shown_key,
    sign_in_with_code,
)
from twostep.accounts.models import User
from twostep.helpdesk.forms import CHECKLIST

LANGUAGES = ["nl", "fr"]
LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


# -- the catalogues ---------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str = ""
    msgstrs: dict[str, str] = field(default_factory=dict)  # "msgstr" or "msgstr[0]", ...
    flags: set[str] = field(default_factory=set)


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), text
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], text[1:-1])


def read_po(path: Path) -> list[Entry]:
    """A small reader for the .po files makemessages writes (no msgctxt, no obsolete entries)."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry, key = Entry(), ""
        for line in block.splitlines():
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif match := re.match(r"^(msgid|msgid_plural|msgstr(?:\[\d+\])?) (\".*\")$", line):
                key = match.group(1)
                value = _unquote(match.group(2))
                if key == "msgid":
                    entry.msgid = value
                elif key == "msgid_plural":
                    entry.msgid_plural = value
                else:
                    entry.msgstrs[key] = value
            else:
                assert line.startswith('"'), f"{path}: cannot read {line!r}"
                if key == "msgid":
                    entry.msgid += _unquote(line)
                elif key == "msgid_plural":
                    entry.msgid_plural += _unquote(line)
                else:
                    entry.msgstrs[key] += _unquote(line)
        entries.append(entry)
    return entries


def catalogue(language: str) -> list[Entry]:
    return [e for e in read_po(LOCALE_DIR / language / "LC_MESSAGES" / "django.po") if e.msgid]


def test_settings_offer_english_dutch_and_french() -> None:
    assert settings.LANGUAGES == [("en", "English"), ("nl", "Nederlands"), ("fr", "Français")]
    assert LOCALE_DIR.is_dir()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_entry_is_translated(language: str) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "django.po"
    header = read_po(path)[0]
    assert header.msgid == "" and f"Language: {language}\n" in header.msgstrs["msgstr"]
    assert "Plural-Forms: nplurals=2;" in header.msgstrs["msgstr"]
    assert "fuzzy" not in header.flags
    entries = catalogue(language)
    assert len(entries) > 200
    for entry in entries:
        assert "fuzzy" not in entry.flags, entry.msgid
        if entry.msgid_plural:
            assert set(entry.msgstrs) == {"msgstr[0]", "msgstr[1]"}, entry.msgid
        assert entry.msgstrs and all(entry.msgstrs.values()), f"untranslated: {entry.msgid!r}"
        wanted = set(PLACEHOLDER.findall(entry.msgid + entry.msgid_plural))
        for text in entry.msgstrs.values():
            assert set(PLACEHOLDER.findall(text)) == wanted, (entry.msgid, text)
            assert re.findall(r"<(/?\w+)", text) == re.findall(r"<(/?\w+)", entry.msgid), text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_product_labels_are_translated_consistently(language: str) -> None:
    expected = {
        "nl": {
            "Manage 2FA": "2FA beheren",
            "Enable 2FA": "2FA inschakelen",
            "Next": "Volgende",
            "Disable 2FA": "2FA uitschakelen",
            "Close": "Sluiten",
            "Administration": "Beheer",
            "Manage users": "Gebruikers beheren",
        },
        "fr": {
            "Manage 2FA": "Gérer la 2FA",
            "Enable 2FA": "Activer la 2FA",
            "Next": "Suivant",
            "Disable 2FA": "Désactiver la 2FA",
            "Close": "Fermer",
            "Administration": "Administration",
            "Manage users": "Gérer les utilisateurs",
        },
    }[language]
    translations = {e.msgid: e.msgstrs.get("msgstr", "") for e in catalogue(language)}
    for english, translated in expected.items():
        assert translations[english] == translated
    # Sentences that name a label use the label's translation.
    for entry in catalogue(language):
        for english, translated in expected.items():
            if len(english.split()) > 1 and _names_label(entry.msgid, english):
                for text in entry.msgstrs.values():
                    assert translated in text, (entry.msgid, text)


def _names_label(sentence: str, label: str) -> bool:
    """``label`` inside ``sentence`` as the name of a button or page ("choose Enable 2FA"),
    not as the sentence's own verb ("Enable 2FA now.")."""
    for match in re.finditer(re.escape(label), sentence):
        before = sentence[: match.start()].rstrip()
        if before and not before.endswith((".", "!", "?", ":")):
            return True
    return False


# -- finding English left on a page ------------------------------------------------------------


class _Texts(HTMLParser):
    """The text a person sees or hears: text nodes and the attributes read out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._skip = 0
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""
        for name, value in attrs:
            if name in {"aria-label", "placeholder", "title", "alt"} and value:
                self.nodes.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.nodes.append(data)


def _squash(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Probe:
    english: str
    pattern: re.Pattern[str]
    short: bool  # fewer than three words of its own: only a whole text node counts


def probes(language: str) -> list[Probe]:
    """The catalogue's English texts whose translation differs, as patterns over page text."""
    found = []
    for entry in catalogue(language):
        for english, translated in [
            (entry.msgid, entry.msgstrs.get("msgstr", entry.msgstrs.get("msgstr[0]", ""))),
            (entry.msgid_plural, entry.msgstrs.get("msgstr[1]", "")),
        ]:
            if not english or _squash(english) == _squash(translated):
                continue
            visible = _squash(re.sub(r"<[^>]+>", " ", english)).replace(" .", ".")
            parts = PLACEHOLDER.split(visible)
            literal = parts[::2]  # split() puts the placeholder names at odd positions
            words = " ".join(literal).split()
            pattern = r"\s*.+?\s*".join(re.escape(part.strip()) for part in literal)
            found.append(Probe(english, re.compile(pattern), short=len(words) < 3))
    return found


def untranslated(text_nodes: Iterable[str], language: str) -> list[str]:
    nodes = [_squash(n) for n in text_nodes if _squash(n)]
    everything = " ".join(nodes).replace(" .", ".")
    left = []
    for probe in probes(language):
        if probe.short:
            if any(probe.pattern.fullmatch(node) for node in nodes):
                left.append(probe.english)
        elif probe.pattern.search(everything):
            left.append(probe.english)
    return left


# Words of English that neither Dutch nor French has: text not in the catalogue at all (never
# wrapped for translation) shows up through them.
ENGLISH_WORDS = re.compile(
    r"\b(the|your|you|with|this|that|please|enter|sign|signed|code from|has been|will)\b", re.I
)


def english_words(text_nodes: Iterable[str]) -> list[str]:
    return [_squash(n) for n in text_nodes if ENGLISH_WORDS.search(n)]


def check_page(content: bytes, language: str, where: str) -> None:
    parser = _Texts()
    parser.feed(content.decode())
    assert parser.lang == language, f"{where}: <html lang={parser.lang!r}>"
    left = untranslated(parser.nodes, language)
    assert not left, f"{where} in {language} still says: {left}"
    left = english_words(parser.nodes)
    assert not left, f"{where} in {language} has English text: {left}"


def test_the_probe_finds_english_left_on_a_page() -> None:
    """The check itself: an English sentence, label or message on a Dutch page is found."""
    page = (
        b'<html lang="nl"><body><h1>Enable 2FA</h1><p>Signing in as <strong>a@b.c</strong>'
        b'</p><button aria-label="Progress">x</button><p>Reminder sent to a@b.c.</p></body></html>'
    )
    parser = _Texts()
    parser.feed(page.decode())
    left = untranslated(parser.nodes, "nl")
    assert {"Enable 2FA", "Signing in as <strong>%(email)s</strong>", "Progress"} <= set(left)
    assert "Reminder sent to %(email)s." in left
    assert untranslated(["2FA inschakelen", "Account", "alice@example.com"], "nl") == []
    assert english_words(["Lost your phone?", "2FA uitschakelen"]) == ["Lost your phone?"]


# -- every page, every role, every language ------------------------------------------------


class Visit:
    """A client in one language that checks every page it is shown (redirects followed)."""

    def __init__(self, client: Client, language: str) -> None:
        self.client = client
        self.language = language
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
        self.seen: list[str] = []

    def _check(self, response: object, method: str, path: str) -> None:
        content = getattr(response, "content", b"")
        if response["Content-Type"].startswith("text/html"):  # type: ignore[index]
            check_page(content, self.language, f"{method} {path}")
            self.seen.append(path)

    def get(self, path: str, status: int = 200, **extra: str) -> bytes:
        response = self.client.get(path, follow=True, **extra)
        assert response.status_code == status, (path, response.status_code)
        self._check(response, "GET", path)
        return response.content

    def post(self, path: str, data: dict[str, str], status: int = 200) -> bytes:
        response = self.client.post(path, data, follow=True)
        assert response.status_code == status, (path, response.status_code)
        self._check(response, "POST", path)
        return response.content


@pytest.mark.parametrize("language", LANGUAGES)
def test_visitor_pages(client: Client, alice: User, language: str) -> None:
    visit = Visit(client, language)
    visit.get("/login/")
    visit.post("/login/", {"email": "alice@example.com", "password": "wrong"})
    visit.post("/login/", {"email": "", "password": ""})
    visit.get("/password-reset/")
    visit.post("/password-reset/", {"email": "nobody@example.com"})  # -> "check your email"
    visit.get("/password-reset/MQ/bad-token/")  # the link that does not work any more
    visit.get("/password-reset/complete/")
    visit.get("/no-such-page/", status=404)
    visit.get("/", HTTP_HOST="evil.example", status=400)
    visit.get("/account/2fa/")  # -> the login page
    forged = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE=language)
    response = forged.post("/login/", {"email": "a@b.c", "password": "x"})
    assert response.status_code == 403
    check_page(response.content, language, "POST /login/ without CSRF")


@pytest.mark.parametrize("language", LANGUAGES)
def test_pending_login_pages(
    pending_client: Client, frozen_clock: FrozenClock, language: str
) -> None:
    visit = Visit(pending_client, language)
    visit.get("/login/code/")
    visit.post("/login/code/", {"code": ""})
    visit.post("/login/code/", {"code": "12345"})
    visit.post("/login/code/", {"code": "000000"})
    visit.post("/login/code/", {"code": frozen_clock.code(SEED20, 3)})  # the clock hint
    visit.get("/login/recovery/")
    visit.post("/login/recovery/", {"code": "nonsense"})
    visit.post("/login/recovery/", {"code": "abcd-efgh-jkmn-pqrs"})
    visit.get("/account/2fa/")  # -> back to the code step
    visit.post("/logout/", {})  # -> "You are signed out."


@pytest.mark.parametrize("language", LANGUAGES)
def test_confirm_password_and_needs_2fa_pages(
    client: Client, make_user: Callable[..., User], frozen_clock: FrozenClock, language: str
) -> None:
    """Sudo mode's page (with its wrong-password answer) and the helpdesk's "2FA first"."""
    agent = make_user("agent@example.com", office=None, is_staff=True, full_name="Hal")
    agent.user_permissions.add(Permission.objects.get(codename="helpdesk_agent"))
    visit = Visit(client, language)
    assert log_in_password(client, agent.email).url == "/"
    visit.get("/helpdesk/", status=403)
    visit.post("/account/2fa/enable/", {})
    frozen_clock.advance(16 * 60)
    visit.get("/account/2fa/enable/key/")  # -> Confirm your password
    visit.post("/account/confirm-password/", {"password": "wrong"}, status=400)
    visit.post("/account/2fa/enable/code/", {"code": "123456"})  # -> "Nothing was changed"


@pytest.mark.parametrize("language", LANGUAGES)
def test_signed_in_user_pages(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock, language: str
) -> None:
    visit = Visit(verified_client, language)
    visit.get("/")
    visit.get(MANAGE)
    visit.get(DISABLE)
    visit.post(DISABLE, {"password": "wrong", "code": "123456"})
    frozen_clock.advance(30)
    visit.post(DISABLE, {"password": PASSWORD, "code": "000000"})  # the code is refused
    visit.post(START, {"password": ""})  # set up a new phone needs the password and code
    frozen_clock.advance(60)
    visit.post(START, {"password": PASSWORD, "code": frozen_clock.code(SEED20)})  # -> setup
    visit.get(CONFIRM)
    visit.post(CONFIRM, {"code": "000000"})
    frozen_clock.advance(60)
    codes = {"password": PASSWORD, "code": frozen_clock.code(SEED20)}
    visit.post("/account/2fa/recovery-codes/", codes)  # ten new codes
    visit.get("/account/password/")
    visit.post("/account/password/", {"old_password": "wrong", "new_password1": "x"})
    visit.get("/account/activity/")
    visit.get(MANAGE_USERS, status=403)
    visit.get("/helpdesk/", status=403)
    frozen_clock.advance(120)  # past the wait after the wrong passwords above
    visit.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a new and long passphrase 7",
            "new_password2": "a new and long passphrase 7",
        },
    )  # -> password changed
    frozen_clock.advance(30)
    visit.post(
        DISABLE, {"password": "a new and long passphrase 7", "code": frozen_clock.code(SEED20)}
    )  # -> 2FA off
    visit.get(MANAGE)
    visit.post(START, {})  # -> Enable 2FA: the setup page
    key = shown_key(verified_client)
    visit.get(SETUP)
    page = visit.post(CONFIRM, {"code": frozen_clock.code(key)})  # -> enabled, with codes
    assert b'data-testid="recovery-codes"' in page
    assert MANAGE in visit.seen and "/account/activity/" in visit.seen


@pytest.fixture
def office_admin(make_user: Callable[..., User], frozen_clock: FrozenClock) -> User:
    return make_user("olga@example.com", full_name="Olga Admin", role=User.Role.OFFICE_ADMIN)


@pytest.mark.parametrize("language", LANGUAGES)
def test_office_admin_pages(
    client: Client, office_admin: User, make_user: Callable[..., User], language: str
) -> None:
    enable_two_factor(make_user("bob@example.com", full_name="Bob Example"))
    carol = make_user("carol@example.com", full_name="Carol Example")
    visit = Visit(client, language)
    assert log_in_password(client, office_admin.email).url == "/"
    visit.get(MANAGE_USERS)
    visit.post("/administration/policy/", {"require_2fa": "on", "grace_days": "500"})
    visit.post("/administration/policy/", {"require_2fa": "on", "grace_days": "1"})
    page = visit.get(MANAGE_USERS + "?twofa=off")  # -> grace until ...
    assert b'class="grace"' in page and b"/remind/" in page
    visit.post(f"/administration/users/{carol.pk}/remind/", {})
    visit.get(MANAGE_USERS + "?twofa=on")
    visit.post("/administration/policy/", {"grace_days": "14"})  # -> optional again
    visit.post("/administration/policy/", {"require_2fa": "on", "grace_days": "0"})
    visit.get("/")  # the admin has no 2FA: overdue, so only the 2FA setup remains


@pytest.mark.parametrize("language", LANGUAGES)
def test_helpdesk_agent_pages(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock, language: str
) -> None:
    agent = make_enrolled_agent()
    visit = Visit(client, language)
    sign_in_with_code(client, agent.email, AGENT_KEY, frozen_clock)
    visit.get("/")
    visit.get("/helpdesk/")
    visit.get("/helpdesk/?email=nobody@example.com")
    visit.get(f"/helpdesk/?email={alice_with_totp.email}")  # -> the user's page
    url = f"/helpdesk/users/{alice_with_totp.pk}/"
    visit.post(url, {"reason": ""}, status=400)
    checks = {name: "on" for name, _label in CHECKLIST}
    page = visit.post(url, {**checks, "reason": "TICKET-9"})  # -> reset, with its message
    assert b"message-success" in page
    visit.get(url)


# -- the language switcher and the user's saved choice ---------------------------------------


def test_the_switcher_is_in_the_footer_and_switches_a_visitor(client: Client) -> None:
    page = client.get("/login/").content.decode()
    assert '<html lang="en">' in page and 'action="/i18n/setlang/"' in page
    assert 'name="csrfmiddlewaretoken"' in page.split('class="language"')[1]
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/login/"})
    assert response.status_code == 302 and response.url == "/login/"
    page = client.get("/login/").content.decode()
    assert '<html lang="fr">' in page and "Se connecter" in page


def test_the_browser_language_chooses_for_a_visitor(client: Client) -> None:
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9,en;q=0.5").content
    assert b'<html lang="nl">' in page and b"Inloggen" in page
    assert b'<html lang="en">' in client.get("/login/", HTTP_ACCEPT_LANGUAGE="de").content


def test_a_signed_in_users_choice_is_saved_and_used_in_a_new_session(
    verified_client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    response = verified_client.post("/i18n/setlang/", {"language": "nl", "next": "/"})
    assert response.status_code == 302 and response.url == "/"
    alice_with_totp.refresh_from_db()
    assert alice_with_totp.language == "nl"
    # Another browser, which asks for French and has no language cookie: Alice's choice wins.
    other = Client(HTTP_ACCEPT_LANGUAGE="fr")
    frozen_clock.advance(30)
    assert log_in_password(other, alice_with_totp.email).url == "/login/code/"
    assert other.post("/login/code/", {"code": frozen_clock.code(SEED20)}).status_code == 302
    page = other.get("/").content.decode()
    assert '<html lang="nl">' in page and "Welkom, Alice Example" in page
    assert "2FA beheren" in page


def test_a_visitor_switching_changes_no_user(client: Client, alice: User) -> None:
    client.post("/i18n/setlang/", {"language": "fr", "next": "/login/"})
    alice.refresh_from_db()
    assert alice.language == ""


def test_an_unknown_language_is_ignored(verified_client: Client, alice_with_totp: User) -> None:
    response = verified_client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert response.status_code == 302
    alice_with_totp.refresh_from_db()
    assert alice_with_totp.language == ""


# -- emails in the user's language -----------------------------------------------------------


def _email_text(message: mail.EmailMessage) -> list[str]:
    return [message.subject, *str(message.body).splitlines()]


def test_2fa_enabled_email_is_in_the_users_language(
    client: Client, alice: User, frozen_clock: FrozenClock
) -> None:
    User.objects.filter(pk=alice.pk).update(language="nl")
    assert log_in_password(client, alice.email).url == "/"
    client.post(START, {})
    key = shown_key(client)
    mail.outbox.clear()
    client.post(CONFIRM, {"code": frozen_clock.code(key)}, HTTP_ACCEPT_LANGUAGE="en")
    [message] = mail.outbox
    assert message.subject == "[Twostep] Tweestapsverificatie is ingeschakeld"
    assert "Beste Alice Example," in message.body
    assert untranslated(_email_text(message), "nl") == []
    assert english_words(_email_text(message)) == []


def test_helpdesk_reset_email_is_in_the_users_language_not_the_agents(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    User.objects.filter(pk=alice_with_totp.pk).update(language="fr")
    agent = make_enrolled_agent()
    sign_in_with_code(client, agent.email, AGENT_KEY, frozen_clock)
    mail.outbox.clear()
    checks = {name: "on" for name, _label in CHECKLIST}
    client.post(f"/helpdesk/users/{alice_with_totp.pk}/", {**checks, "reason": "TICKET-9"})
    [message] = [m for m in mail.outbox if m.to == [alice_with_totp.email]]
    assert "authentification à deux facteurs" in message.subject
    assert message.body.lstrip().startswith("Bonjour Alice Example,")
    assert "TICKET-9" in message.body
    assert untranslated(_email_text(message), "fr") == []
    assert english_words(_email_text(message)) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_password_reset_email_follows_the_request_when_the_user_chose_nothing(
    client: Client, alice: User, language: str
) -> None:
    client.post("/password-reset/", {"email": alice.email}, HTTP_ACCEPT_LANGUAGE=language)
    [message] = mail.outbox
    assert "Reset your password" not in message.subject
    assert untranslated(_email_text(message), language) == []
    assert english_words(_email_text(message)) == []


def test_password_reset_email_uses_the_users_saved_language(client: Client, alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(language="nl")
    client.post("/password-reset/", {"email": alice.email}, HTTP_ACCEPT_LANGUAGE="fr")
    [message] = mail.outbox
    assert message.subject == "[Twostep] Stel uw wachtwoord opnieuw in"
    assert message.body.startswith("Beste Alice Example,")


def test_emails_stay_english_by_default(client: Client, alice: User) -> None:
    client.post("/password-reset/", {"email": alice.email})
    [message] = mail.outbox
    assert message.subject == "[Twostep] Reset your password"
    assert message.body.startswith("Hello Alice Example,")

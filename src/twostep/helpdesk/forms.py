from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

# The identity questions an agent must have confirmed; docs/helpdesk.md explains each.
CHECKLIST = [
    ("confirmed_name_email", _("The caller gave the full name and email address of the account.")),
    ("confirmed_office", _("The caller named the office the account belongs to.")),
    ("confirmed_office_admin", _("The caller named their office admin.")),
    ("confirmed_last_login", _("The caller knew roughly when they last signed in.")),
    (
        "confirmed_callback",
        _(
            "I confirmed the request through a second channel: a call back to the office "
            "or a confirmation from the office admin."
        ),
    ),
]


class FindUserForm(forms.Form):
    email = forms.CharField(label=_("Email address"), max_length=254)


class HelpdeskResetForm(forms.Form):
    reason = forms.CharField(
        label=_("Ticket reference and reason"),
        max_length=500,
        help_text=_(
            "Recorded in the security log and shown to the user in the email that tells them "
            "of the reset: a ticket reference and a short reason, no internal notes."
        ),
        widget=forms.TextInput(attrs={"placeholder": _("TICKET-123: lost phone")}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name, label in CHECKLIST:
            self.fields[name] = forms.BooleanField(label=label, required=True)

    def checklist_fields(self) -> list[forms.BoundField]:
        return [self[name] for name, _label in CHECKLIST]

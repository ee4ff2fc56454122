"""Forms that take a code or a password. A code field does no validation of its own:
the verifier reads every input (and counts refused ones), so that no input escapes the limits."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class EmptyTextInput(forms.TextInput):
    """A text box that never shows the value sent: a refused code is typed again afresh."""

    def format_value(self, value: Any) -> str | None:
        return None


class CodeField(forms.Field):
    """Passes the raw text to the verifier; only its length on the wire is bounded."""

    widget = EmptyTextInput(
        attrs={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "autocapitalize": "off",
            "spellcheck": "false",
            "maxlength": "20",
            "class": "code-input",
            "autofocus": True,
        }
    )

    def to_python(self, value: Any) -> str:
        return value if isinstance(value, str) else ""


class CodeForm(forms.Form):
    code = CodeField(label=_("6-digit code"), required=False)


class RecoveryCodeForm(forms.Form):
    code = CodeField(
        label=_("Recovery code"),
        required=False,
        widget=EmptyTextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "maxlength": "40",
                "autofocus": True,
            }
        ),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PasswordAndCodeForm(PasswordConfirmForm):
    """Full re-authentication (D1): the password and the current code, or a recovery code."""

    code = CodeField(
        label=_("Code from your authenticator app"),
        help_text=_("Lost your phone? Enter one of your recovery codes instead."),
        required=False,
        widget=EmptyTextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "maxlength": "40",
            }
        ),
    )

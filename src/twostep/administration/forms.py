from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from twostep.administration.policy import MAX_GRACE_DAYS


class PolicyForm(forms.Form):
    require_2fa = forms.BooleanField(
        label=_("Require 2FA for everyone in the office"), required=False
    )
    grace_days = forms.IntegerField(
        label=_("Grace period in days"), min_value=0, max_value=MAX_GRACE_DAYS, initial=14
    )

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView

from twostep.accounts import views as account_views

handler500 = "twostep.ops.errors.server_error"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("", include("twostep.accounts.urls")),
    path("account/2fa/", include("twostep.twofactor.urls")),
    path("account/activity/", include("twostep.audit.urls")),
    path("administration/", include("twostep.administration.urls")),
    path("helpdesk/", include("twostep.helpdesk.urls")),
    # The Django admin signs in through the portal's own login, so 2FA applies there too.
    path("django-admin/login/", account_views.admin_login_redirect),
    path(
        "django-admin/password_change/",
        login_required(RedirectView.as_view(pattern_name="accounts:password_change")),
    ),
    path("django-admin/", admin.site.urls),
]

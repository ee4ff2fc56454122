from django.urls import path

from twostep.accounts import passwords, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.code_view, name="code"),
    path("login/recovery/", views.recovery_view, name="recovery"),
    path("logout/", views.logout_view, name="logout"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("session-changed/", views.session_changed, name="session_changed"),
    path("account/confirm-password/", views.confirm_password, name="confirm_password"),
    path("account/password/", passwords.PasswordChangeView.as_view(), name="password_change"),
    path(
        "account/password/done/",
        passwords.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password-reset/", passwords.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        passwords.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        passwords.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        passwords.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

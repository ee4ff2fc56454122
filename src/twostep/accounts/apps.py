from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "twostep.accounts"
    label = "accounts"
    verbose_name = "Accounts and offices"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from twostep.accounts.middleware import remember_sign_in_time
        from twostep.accounts.recent_auth import remember_password_typed

        user_logged_in.connect(remember_sign_in_time, dispatch_uid="twostep.signed_in_at")
        user_logged_in.connect(remember_password_typed, dispatch_uid="twostep.password_typed_at")

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "twostep.accounts"
    label = "accounts"
    verbose_name = "Accounts and offices"

from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    name = "twostep.twofactor"
    label = "twofactor"
    verbose_name = "Two-factor authentication"

    def ready(self) -> None:
        from twostep.twofactor import checks  # noqa: F401  (registers the checks)

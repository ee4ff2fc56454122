from django.apps import AppConfig


class AdministrationConfig(AppConfig):
    name = "twostep.administration"
    label = "administration"
    verbose_name = "Office administration"

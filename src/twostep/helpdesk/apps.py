from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "twostep.helpdesk"
    label = "helpdesk"
    verbose_name = "Helpdesk"

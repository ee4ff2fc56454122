from django.urls import path

from twostep.twofactor import views

app_name = "twofactor"
urlpatterns = [
    path("", views.manage, name="manage"),
    path("enable/", views.start, name="start"),
    path("enable/key/", views.setup, name="setup"),
    path("enable/code/", views.confirm, name="confirm"),
    path("enable/done/", views.enabled, name="enabled"),
    path("disable/", views.disable, name="disable"),
    path("recovery-codes/", views.new_recovery_codes, name="new_recovery_codes"),
    path("recovery-codes/new/", views.show_recovery_codes, name="show_recovery_codes"),
]

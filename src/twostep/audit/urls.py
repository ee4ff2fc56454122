from django.urls import path

from twostep.audit import views

app_name = "audit"
urlpatterns = [path("", views.my_activity, name="my_activity")]

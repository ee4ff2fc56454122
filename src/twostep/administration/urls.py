from django.urls import path

from twostep.administration import views

app_name = "administration"
urlpatterns = [path("users/", views.manage_users, name="manage_users")]

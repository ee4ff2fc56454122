from django.urls import path

from twostep.administration import views

app_name = "administration"
urlpatterns = [
    path("users/", views.manage_users, name="manage_users"),
    path("policy/", views.change_policy, name="policy"),
    path("users/<int:user_id>/remind/", views.remind, name="remind"),
]

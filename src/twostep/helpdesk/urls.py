from django.urls import path

from twostep.helpdesk import views

app_name = "helpdesk"
urlpatterns = [
    path("", views.find_user, name="find"),
    path("users/<int:user_id>/", views.user_detail, name="user"),
]

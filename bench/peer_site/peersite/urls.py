from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from two_factor.urls import urlpatterns as tf_urls


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"Signed in as {request.user}")


urlpatterns = [path("", home, name="home"), path("", include(tf_urls))]

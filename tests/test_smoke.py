from django.test import Client

from tests.conftest import SEED20, FrozenClock, log_in_password
from twostep.accounts.models import User


def test_login_with_code_reaches_home(
    client: Client, alice_with_totp: User, frozen_clock: FrozenClock
) -> None:
    response = log_in_password(client, "Alice@Example.com")
    assert response.url == "/login/code/"
    assert client.get("/").status_code == 302
    response = client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/").status_code == 200

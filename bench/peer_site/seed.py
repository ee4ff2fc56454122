"""Seed the peer (run with bench/.peer-venv's Python, PYTHONPATH=bench/peer_site:bench).

Users with TOTPDevice rows holding the known keys; every user shares one Argon2 hash of the
benchmark password (computed once; verifying it costs the same as a per-user hash).
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peersite.settings")
django.setup()

import benchlib  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0, interactive=False)
    if User.objects.exists():
        print("already seeded")
        return
    hashed = make_password(benchlib.PASSWORD)
    twofa = benchlib.twofa_emails()
    others = [benchlib.ADMIN_EMAIL] + [benchlib.enrol_email(i) for i in range(benchlib.ENROL_POOL)]
    filler = benchlib.OFFICE_SIZE - len(twofa) - len(others)
    others += [f"filler{i}@bench.example" for i in range(filler)]
    User.objects.bulk_create(
        [User(username=e, email=e, password=hashed) for e in twofa + others], batch_size=500
    )
    ids = dict(User.objects.filter(username__in=twofa).values_list("username", "id"))
    TOTPDevice.objects.bulk_create(
        [
            TOTPDevice(
                user_id=ids[e], name="default", key=benchlib.key_for(e).hex(), confirmed=True
            )
            for e in twofa
        ],
        batch_size=500,
    )
    print(f"seeded {User.objects.count()} users, {TOTPDevice.objects.count()} TOTP devices")


if __name__ == "__main__":
    sys.exit(main())

"""Seed Twostep (run with the main venv's Python and the server's environment).

One office of benchlib.OFFICE_SIZE users; the 2FA users get a TwoFactorDevice sealed with the
product's own key ring (twostep.twofactor.storage.seal) around the known key. Every user shares
one Argon2 hash of the benchmark password (verifying it costs the same as a per-user hash).
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twostep.settings")
django.setup()

import benchlib  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.utils import timezone  # noqa: E402

from twostep.accounts.models import Office, User  # noqa: E402
from twostep.twofactor.models import TwoFactorDevice  # noqa: E402
from twostep.twofactor.storage import seal  # noqa: E402


def main() -> None:
    if User.objects.exists():
        print("already seeded")
        return
    office = Office.objects.create(name=benchlib.OFFICE)
    hashed = make_password(benchlib.PASSWORD)
    twofa = benchlib.twofa_emails()
    others = [benchlib.enrol_email(i) for i in range(benchlib.ENROL_POOL)]
    filler = benchlib.OFFICE_SIZE - len(twofa) - len(others) - 1
    others += [f"filler{i}@bench.example" for i in range(filler)]
    users = [
        User(email=e, full_name=e.split("@")[0].title(), office=office, password=hashed)
        for e in twofa + others
    ]
    users.append(
        User(
            email=benchlib.ADMIN_EMAIL,
            full_name="Bench Admin",
            office=office,
            role=User.Role.OFFICE_ADMIN,
            password=hashed,
        )
    )
    User.objects.bulk_create(users, batch_size=500)
    now = timezone.now()
    devices = [
        TwoFactorDevice(
            user=u,
            encrypted_key=seal(u, benchlib.key_for(u.email)),
            confirmed_at=now,
            last_used_step=0,
            last_used_at=now,
        )
        for u in User.objects.filter(email__in=twofa)
    ]
    TwoFactorDevice.objects.bulk_create(devices, batch_size=500)
    print(f"seeded {User.objects.count()} users, {TwoFactorDevice.objects.count()} 2FA devices")


if __name__ == "__main__":
    sys.exit(main())

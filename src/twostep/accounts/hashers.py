"""Argon2id with parameters chosen for a 2-core server (OWASP's second argon2id setting).

Django's default uses 8 lanes, which two cores cannot run in parallel; OWASP lists
m=19 MiB, t=2, p=1 as equivalent in strength to its other recommended settings.
See docs/architecture.md for the measured cost.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class TwostepArgon2PasswordHasher(Argon2PasswordHasher):
    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19456
    parallelism = 1

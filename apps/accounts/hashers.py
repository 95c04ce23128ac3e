"""Password hashing: Argon2id with the platform's cost parameters."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id, time_cost=3, memory_cost=64 MiB, parallelism=1.

    Keeps Django's algorithm name so hashes stay verifiable if the parameters change;
    Django re-hashes on login when they differ.
    """

    time_cost = 3
    memory_cost = 65536
    parallelism = 1

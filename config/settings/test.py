"""Test settings: fixed throw-away keys, a fast hasher, PostgreSQL when DATABASE_URL says so."""

from .base import *  # noqa: F403
from .base import MINZHENG_KEYS

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"
MINZHENG_KEYS.update(
    enc="00112233445566778899aabbccddeeff",
    idx="0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
    audit="a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9f",
    token="5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
MINZHENG_ALLOW_FLUSH = True  # transactional tests flush between tests

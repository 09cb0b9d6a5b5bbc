"""Local development and `make demo`: plain HTTP on 127.0.0.1."""

from .base import *  # noqa: F403

DEBUG = True

"""The synthetic district generator behind `minzheng seed` (DESIGN §7).

Pure generation (``plan``, ``population``, ``names``, ``identities``, ``tables``) is kept apart
from sealing and encoding (``encode``) and from the database (``load``, ``runner``).
"""

from minzheng.synth.identities import is_synthetic_id

__all__ = ["is_synthetic_id"]

"""Champion/challenger: which model answers a request.

A share of the traffic (ServingSettings.challenger_share) goes to the challenger, chosen by a
hash of the request key: the X-Routing-Key header when the client sends one (a user or session
id keeps each user on one model), else the request id. The same key always gets the same
model, in every worker and replica, so results are reproducible and a user's experience is
consistent. The response, the prediction log and /metrics all say which variant answered.
"""

from __future__ import annotations

import hashlib

from mlops_ladder.serving.settings import CHALLENGER, CHAMPION

_SCALE = float(2**64)


def bucket(key: str) -> float:
    """A number in [0, 1) that depends only on `key`: the first 8 bytes of its SHA-256."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def choose_variant(key: str, challenger_share: float) -> str:
    """CHALLENGER for keys whose bucket falls below the share, CHAMPION for the others."""
    if challenger_share > 0 and bucket(key) < challenger_share:
        return CHALLENGER
    return CHAMPION

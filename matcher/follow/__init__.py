"""Online following of a take against a reference."""

from .costs import CostWeights
from .follower import Follower, FollowParams, Position, Track
from .prepared import PreparedReference
from .run import follow_blocks, summarize
from .sessions import SessionGroup

__all__ = [
    "CostWeights",
    "FollowParams",
    "Follower",
    "Position",
    "PreparedReference",
    "SessionGroup",
    "Track",
    "follow_blocks",
    "summarize",
]

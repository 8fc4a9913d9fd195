"""Online following of a take against a reference."""

from .costs import CostWeights
from .follower import Follower, FollowParams, Position, Track
from .run import follow_blocks, summarize

__all__ = ["CostWeights", "FollowParams", "Follower", "Position", "Track", "follow_blocks", "summarize"]

"""Online following of a take against a reference."""

from .costs import CostWeights
from .follower import Follower, FollowParams, Position, Track
from .prepared import PreparedReference
from .run import follow_blocks, positions_jsonl, summarize
from .sessions import SessionGroup
from .tempo import BarTempo, bar_tempo, followed_tempo, pause_spans

__all__ = [
    "BarTempo",
    "CostWeights",
    "FollowParams",
    "Follower",
    "Position",
    "PreparedReference",
    "SessionGroup",
    "Track",
    "bar_tempo",
    "follow_blocks",
    "followed_tempo",
    "pause_spans",
    "positions_jsonl",
    "summarize",
]

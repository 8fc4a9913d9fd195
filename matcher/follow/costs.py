"""The follower's cost vectors: built by :mod:`matcher.features.vectors`, shared with the
offline aligner (this module keeps the names other code imports from here)."""

from ..features.vectors import CostWeights, cost_vectors, flux_scale

__all__ = ["CostWeights", "cost_vectors", "flux_scale"]

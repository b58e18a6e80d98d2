"""Simulated data sets: the answer keys that validation runs against."""

from ._kmeans import KMEANS_SCENARIOS, make_kmeans_scenario
from ._permutation import TWO_GROUP_DISTRIBUTIONS, make_two_group_data
from ._prices import make_gbm_prices

__all__ = [
    "KMEANS_SCENARIOS",
    "TWO_GROUP_DISTRIBUTIONS",
    "make_gbm_prices",
    "make_kmeans_scenario",
    "make_two_group_data",
]

"""Every domain's configurable rules, imported once so that the policy registry knows them all
(as :mod:`landsvc.models` does for tables)."""

from landsvc.buildings.rules import SplitTransferRules
from landsvc.matching.scoring import MatchingWeights
from landsvc.offerings.rules import OfferingRules

__all__ = ["MatchingWeights", "OfferingRules", "SplitTransferRules"]

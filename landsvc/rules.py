"""Every domain's configurable rules, imported once so that the policy registry knows them all
(as :mod:`landsvc.models` does for tables)."""

from landsvc.approvals.clock import DeadlineRules
from landsvc.buildings.rules import SplitTransferRules
from landsvc.guidelines.rules import GuidelineRules
from landsvc.matching.scoring import MatchingWeights
from landsvc.offerings.rules import OfferingRules
from landsvc.quota.service import QuotaRules
from landsvc.rents.rules import RentRules
from landsvc.utilities.rules import UtilityRules

__all__ = ["DeadlineRules", "GuidelineRules", "MatchingWeights", "OfferingRules", "QuotaRules",
           "RentRules", "SplitTransferRules", "UtilityRules"]

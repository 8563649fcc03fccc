"""Every ORM model, imported once so that Base.metadata knows all tables."""

from landsvc.accounts.models import AppUser, LoginFailure, WebSession
from landsvc.allocations.models import Allocation
from landsvc.approvals.models import ApprovalCase, ApprovalEvent
from landsvc.audit.models import AuditEntry
from landsvc.buildings.models import Building, BuildingUnit, UnitTransfer
from landsvc.demands.models import Demand
from landsvc.districts.models import City, District, DistrictPart
from landsvc.enterprises.models import Consortium, ConsortiumMember, Enterprise
from landsvc.guidelines.models import GuidelineItem, GuidelineVersion, RentZone
from landsvc.listings.models import Listing
from landsvc.notifications.models import Notification, WebhookDelivery
from landsvc.offerings.models import Offering
from landsvc.parcels.models import Parcel
from landsvc.parks.models import Park
from landsvc.policies.models import PolicySetting
from landsvc.quota.models import QuotaAllocation, QuotaMovement, QuotaPool
from landsvc.rents.models import RentRecord
from landsvc.tokens.models import ApiToken
from landsvc.utilities.models import UtilityComplaint, UtilityTariff

__all__ = ["Allocation", "ApiToken", "AppUser", "AuditEntry", "LoginFailure", "WebSession", "ApprovalCase", "ApprovalEvent", "Building", "BuildingUnit", "City", "Consortium",
           "ConsortiumMember",
           "Demand", "District", "DistrictPart", "Enterprise",
           "GuidelineItem", "GuidelineVersion", "RentZone",
           "Listing", "Notification", "Offering", "Parcel", "Park", "PolicySetting",
           "QuotaAllocation", "QuotaMovement", "QuotaPool", "RentRecord",
           "UnitTransfer", "UtilityComplaint", "UtilityTariff", "WebhookDelivery"]

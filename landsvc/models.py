"""Every ORM model, imported once so that Base.metadata knows all tables."""

from landsvc.districts.models import City, District, DistrictPart
from landsvc.parcels.models import Parcel
from landsvc.tokens.models import ApiToken

__all__ = ["ApiToken", "City", "District", "DistrictPart", "Parcel"]

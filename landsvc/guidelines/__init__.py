"""Rent guideline prices (租金指导价): zones, computed versions and their published items."""

"""Rent records (租赁备案): registered factory leases loaded in bulk by bureaus."""

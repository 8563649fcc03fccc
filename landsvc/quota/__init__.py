"""省级先进制造业用地指标 — provincial quota pools, their allocations and movements."""

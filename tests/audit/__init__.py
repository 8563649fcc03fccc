"""The write audit (issue 11)."""

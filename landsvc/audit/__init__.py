"""The write audit: who changed what, when and from where (issue 11)."""

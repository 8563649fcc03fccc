"""Precise push (精准推送): a matching open demand hears of each published offering or listing."""

"""Truth at the door: duplicates, plausibility rules and flags, backlog and 报送 completeness."""

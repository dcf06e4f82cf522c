"""Annual targets (年度目标): the grid staff fill in, and its Excel round trip."""

"""意见建议的跟踪 (issue 20): a verified suggestion's follow-up state and 采纳率."""

"""Diabetes follow-ups, measurements, worklists and quality indicators (ISSUE 4). models; the app's tables arrive with its issue."""

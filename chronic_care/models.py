"""Diabetes follow-ups, measurements, worklists and quality indicators (issue 4).

The app's tables arrive with its issue.
"""

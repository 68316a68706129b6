"""Notifications: Slack, Microsoft Teams and email."""

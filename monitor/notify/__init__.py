"""Notifications: renderers (Slack blocks, plain text) and the destinations messages are
delivered to (console, Slack)."""

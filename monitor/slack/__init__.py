"""Slack: the Web API client, Block Kit, signed inbound requests, interactions, Socket Mode."""

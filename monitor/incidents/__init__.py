"""From signals to incidents: the pure core (decisions, lifecycle), the service that applies them,
what people do (ops), SLA timers, reviews, and the one announcer.
"""

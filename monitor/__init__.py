"""crisismon: crisis monitoring and alerting daemon."""

__version__ = "0.1.0"

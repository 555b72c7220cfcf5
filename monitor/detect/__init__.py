"""Detection: windows over the stored items, conditions (threshold, spike, immediate), the
self-calibrating anomaly detector and firing state; pure functions of (rule, series, now)."""

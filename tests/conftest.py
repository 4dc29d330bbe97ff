"""Shared fixtures and the hypothesis profile (deterministic, no deadline: shared CI machines are noisy)."""

from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")

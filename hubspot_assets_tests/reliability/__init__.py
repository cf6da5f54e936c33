"""Reliability and security: faults, bad input and secrets, end to end."""

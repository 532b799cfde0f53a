"""Closed-loop strategy simulator."""

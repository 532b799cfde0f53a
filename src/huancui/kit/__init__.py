"""Shared building blocks every feature may import: money, settings, errors, masking, database."""

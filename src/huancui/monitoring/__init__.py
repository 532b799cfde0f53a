"""Monitoring: KPIs, experiment analysis and reports over the snapshots and the case plane."""

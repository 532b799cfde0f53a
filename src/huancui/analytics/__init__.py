"""Analytics: features, models of ability and willingness to pay, early warning, treatment optimisation."""

"""Synthetic world and demo-data generator: fake customers whose latent ability and willingness to
pay, life events and monthly decisions produce a delivery in the data contract, plus its truth.
"""

from huancui.portfolio.synthetic.generate import GenerationReport, generate_portfolio
from huancui.portfolio.synthetic.parameters import (
    DEFAULT_PARAMETERS,
    LifeEventType,
    WorldParameters,
)

__all__ = [
    "DEFAULT_PARAMETERS",
    "GenerationReport",
    "LifeEventType",
    "WorldParameters",
    "generate_portfolio",
]

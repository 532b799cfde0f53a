"""huancui (缓催): humane, data-driven collections for banks and lenders."""

__version__ = "0.1.0"

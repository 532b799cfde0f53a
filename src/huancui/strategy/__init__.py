"""Collection strategies: the YAML spec, its rule expressions, versions and experiment assignment."""

"""cnncalc: shapes, parameters, connections, MACs, FLOPs and memory of CNNs written as YAML."""

__version__ = "0.1.0"

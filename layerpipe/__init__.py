"""LayerPipe-HW: pipelined training accelerators from a neural-network description."""

__version__ = "0.1.0"

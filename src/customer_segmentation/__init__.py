"""customer-segmentation: customer tables into segments marketing can act on."""

__version__ = "0.1.0"

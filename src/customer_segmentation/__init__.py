"""customer-segmentation: customer tables into segments marketing can act on."""

__version__ = "0.1.0"
REGISTERED_MODEL_NAME = "customer-segmentation"  # the MLflow registry's name for the segmenter

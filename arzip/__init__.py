"""arzip: lossless compression with autoregressive neural models."""

__version__ = "0.2.0"

"""arzip: lossless compression with autoregressive neural models."""

__version__ = "0.1.0"

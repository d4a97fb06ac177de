"""arzip: lossless compression with autoregressive neural models.

The library's calls (see `arzip.api` and the README's "Use from Python"): compress,
decompress, open, compress_file, decompress_file, test_file, info, evaluate_likelihood,
sample;
errors are `ArzipError` and its subclasses.
"""

__version__ = "0.2.0"

from .api import (  # noqa: E402
    ArzipFile,
    compress,
    compress_file,
    compress_files,
    compress_stream,
    decompress,
    decompress_file,
    decompress_files,
    decompress_stream,
    evaluate_likelihood,
    info,
    open,
    sample,
    test_file,
)
from .errors import ArzipError, CodecError, FormatError, IntegrityError, ModelError  # noqa: E402

__all__ = ["ArzipError", "ArzipFile", "CodecError", "FormatError", "IntegrityError",
           "ModelError", "compress", "compress_file", "compress_files", "compress_stream",
           "decompress", "decompress_file", "decompress_files", "decompress_stream",
           "evaluate_likelihood", "info", "open", "sample", "test_file"]

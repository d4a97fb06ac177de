"""Image codec: a PixelCNN++-style model decoded along a cached wavefront."""

"""Audio codec: WaveNet over 16-bit PCM."""

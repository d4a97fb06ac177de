"""Sampling from the models: a decode of random bits.

An entropy decoder fed uniformly random bits returns symbols distributed as the model's
(quantised) distributions, so a sample is what the codec's own decoder path produces from
a payload of random words: the same steps, the same exact arithmetic, hence the same sample
for the same seed, model and arzip on every machine. The words are read by an ANS decoder
(`coding.CategoricalSampler`, `LaplaceSampler`): every word sequence is valid ANS data,
while a range decoder may reject a random stream. The words come from numpy's PCG64 bit
generator (`random_raw`, whose stream numpy keeps stable), seeded with `seed`.

Temperature T (the documented exact rule): each categorical distribution p becomes
p^(1/T) normalised, computed as exp((ln p - ln p_max) / T) with the integer-built ln and
exp tables (`kernels.temper`); the audio codec's Laplace distributions have their scale
multiplied by 2^(round(8 log2 T) / 8) (the scale grid has 8 steps per octave; log2 T from
exact rational series). T = 1 is the model itself.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np

from . import engine, exact, kernels, zoo
from .coding import CategoricalDecoder, CategoricalSampler, LaplaceDecoder, LaplaceSampler
from .errors import ArzipError
from .parallel import one_blas_thread
from .registry import codec_module

KINDS = {"text": "bytes", "image": "image", "audio": "audio"}  # what a user asks for
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 10.0
Progress = Callable[[int], None]


class RandomBits:
    """The seeded stream of random 32-bit words a sample decodes."""

    def __init__(self, seed: int) -> None:
        self.generator = np.random.PCG64(seed)

    def __call__(self, words: int) -> bytes:
        """The next `words` words as a payload (little-endian uint32)."""
        raw = self.generator.random_raw((words + 1) // 2).astype("<u8")
        return raw.tobytes()[: 4 * words]


def laplace_shift(temperature: float) -> int:
    """round(8 log2 T), from exact rational logarithms of the decimal T."""
    t = Fraction(repr(float(temperature)))
    ratio = Fraction(exact.ln_fixed(t, 60), exact.ln_fixed(2, 60)) * exact.LAPLACE_PER_OCTAVE
    return int(round(ratio))


def sampler_for(decoder: type) -> type:
    """The decoder class that reads random words in place of a codec's `decoder`."""
    for base, sampler in ((CategoricalDecoder, CategoricalSampler),
                          (LaplaceDecoder, LaplaceSampler)):
        if issubclass(decoder, base):
            return sampler
    raise ArzipError(f"no sampler for {decoder.__name__}")


def tempered(factory: type, temperature: float) -> type:
    """A decoder class like `factory` whose distributions have temperature T."""
    if temperature == 1.0:
        return factory
    if issubclass(factory, CategoricalDecoder):
        inv_t, tables = 1.0 / temperature, (exact.log_table(), exact.exp2_table())

        class TemperedCategorical(factory):
            def decode(self, probs: np.ndarray) -> np.ndarray:
                probs = np.ascontiguousarray(probs, dtype=np.float64)
                out = np.empty_like(probs)
                kernels.temper(probs, inv_t, *tables, out)
                return super().decode(out)

        return TemperedCategorical
    if issubclass(factory, LaplaceDecoder):
        shift = laplace_shift(temperature)

        class TemperedLaplace(factory):
            def decode(self, base: np.ndarray, index: np.ndarray,
                       fraction: np.ndarray) -> np.ndarray:
                index = np.clip(index + shift, 0, exact.LAPLACE_SCALES - 1)
                return super().decode(base, index, fraction)

        return TemperedLaplace
    raise ArzipError(f"no temperature rule for {factory.__name__}")


def check_temperature(temperature: float) -> None:
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be within {MIN_TEMPERATURE} .. {MAX_TEMPERATURE}")


@one_blas_thread()
def sample(kind: str, model_spec: str | None = None, seed: int = 0, temperature: float = 1.0,
           progress: Progress | None = None, **options) -> bytes:
    """One sample of `kind` ("text", "image", "audio") as file bytes (.txt, .png, .wav);
    `options` go to the codec's sampler (e.g. length, prompt; width, height; seconds, rate)."""
    check_temperature(temperature)
    codec_id = KINDS[kind]
    info = zoo.find_model(model_spec) if model_spec else zoo.default_model(codec_id)
    if info.codec != codec_id:
        raise ArzipError(f"model {info.name} is a {info.codec} model, not a {kind} model")
    codec = engine.load_codec(codec_id, info)  # a copy: the kept codec stays as it is
    codec.decoder_factory = tempered(sampler_for(type(codec).decoder_factory), temperature)
    return codec_module(codec_id, "sample").sample(codec, RandomBits(seed), progress=progress,
                                                   **options)

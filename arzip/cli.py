"""The `arzip` command line (click): flags -> calls. No maths lives here."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
import time
from pathlib import Path

import click

from . import (  # noqa: F401
    __version__,
    api,
    batch,
    benchmark,
    engine,
    likelihood,
    plots,
    registry,
    sampling,
    signals,
    zoo,
)
from .errors import ArzipError
from .fileio import (
    STDIO,
    atomic_output,
    check_output,
    compressed_name,
    decompressed_name,
    refuse_terminal,
    remove_input,
)


class ProgressLine:
    """A one-line progress display on stderr, shown only when stderr is a terminal."""

    def __init__(self, name: str, total: int | None, enabled: bool, unit: str = "") -> None:
        self.name, self.total, self.unit = name, total, unit  # unit "": bytes (KiB)
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()
        self.last = 0.0

    def __call__(self, done: int) -> None:
        now = time.perf_counter()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        share = f"{100 * done / self.total:5.1f}% " if self.total else ""
        scale, unit = (1000, f"k {self.unit}s") if self.unit else (1024, "KiB")
        speed = done / max(now - self.start, 1e-9)
        left = (f", ~{_clock((self.total - done) / speed)} left"
                if self.total and speed > 0 and done < self.total else "")
        sys.stderr.write(f"\r{self.name}: {share}{done // scale} {unit}, "
                         f"{speed / scale:.1f} {unit}/s{left} ")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        click.echo(message, err=True)


def _error(message: str) -> None:
    click.echo(f"arzip: {message}", err=True)


def _report(path: str, exc: ArzipError | OSError) -> None:
    """One error line: arzip's own message, or the path and the system's reason."""
    _error(str(exc) if isinstance(exc, ArzipError) else f"{path}: {exc.strerror or exc}")


def _input_size(path: str) -> int | None:
    if path == STDIO:
        return None
    try:
        return os.path.getsize(path)
    except OSError:  # open_input reports a missing/unreadable input
        return None


def _output_for(path: str, output: str | None, to_stdout: bool, compress: bool) -> str:
    if to_stdout or (path == STDIO and output is None):
        return STDIO
    if output:
        return output
    return compressed_name(path) if compress else decompressed_name(path)


def _overhead(stats: engine.Stats) -> str:
    """Model NLL next to the real coded bits of the model-coded blocks."""
    if not stats.model_coded_bits:
        return ""
    extra = 100 * (stats.model_coded_bits / stats.model_bits - 1) if stats.model_bits else 0.0
    return (f", model NLL {stats.model_bits:.0f} bits, coded {stats.model_coded_bits} bits "
            f"(+{extra:.2f}%)")


def _compress_one(path: str, out: str, opts: dict) -> None:
    check_output(out, opts["force"])
    if out == STDIO:
        refuse_terminal(sys.stdout, "compressed data")
    progress = ProgressLine(path, _input_size(path), not opts["quiet"])
    try:
        stats = api.compress_file(path, out, model=opts["model"], force=opts["force"],
                                  level=opts.get("level"), progress=progress)
    finally:
        progress.clear()
    if opts["remove"] and out != STDIO:
        api.test_file(out, model=opts["model"])  # verified before the input goes
        remove_input(path)
    ratio = 100 * stats.coded_bytes / max(stats.raw_bytes, 1)
    bits = 8 * stats.coded_bytes / max(stats.raw_bytes, 1)
    _say(f"{path}: {stats.raw_bytes} -> {stats.coded_bytes} bytes ({ratio:.2f}%, "
         f"{bits:.3f} bits/byte) in {stats.seconds:.1f}s"
         + (f" [{stats.model}, blocks: {stats.methods}{_overhead(stats)}]"
            if opts["verbose"] else ""),
         opts["quiet"] or not (opts["verbose"] or sys.stderr.isatty()))
    for opened in stats.opened:
        _say(f"  opened {opened}", opts["quiet"] or not opts["verbose"])
    first = 1 if "side" in stats.methods else 0  # block 0: side data, or opened streams' recipes
    for i, decision in enumerate(stats.decisions, first):
        _say(f"  block {i}: {decision}", opts["quiet"] or not opts["verbose"])


def _decompress_one(path: str, out: str, opts: dict) -> None:
    check_output(out, opts["force"])
    if path == STDIO and sys.stdin.isatty():
        raise ArzipError("refusing to read compressed data from a terminal")
    progress = ProgressLine(path, None, not opts["quiet"])
    try:
        stats = api.decompress_file(path, out, model=opts["model"], force=opts["force"],
                                    progress=progress)
    finally:
        progress.clear()
    if opts["remove"]:
        remove_input(path)
    _say(f"{path}: {stats.raw_bytes} bytes, sha256 verified, {stats.seconds:.1f}s",
         opts["quiet"] or not (opts["verbose"] or sys.stderr.isatty()))


def _run_each(paths: tuple[str, ...], output: str | None, to_stdout: bool, compress: bool,
              opts: dict) -> None:
    paths = paths or (STDIO,)
    if output and len(paths) > 1:
        raise click.UsageError("-o takes a single input file")
    if to_stdout and opts["remove"]:
        raise click.UsageError("--rm cannot be combined with -c")
    if to_stdout and output:
        raise click.UsageError("-o cannot be combined with -c")
    if compress and to_stdout and len(paths) > 1:
        # one .arz stream holds one input; the decoder rejects concatenated streams
        raise click.UsageError("compressing several inputs to standard output is not "
                               "supported; compress them one at a time")
    if (opts.get("recursive") or opts.get("scheduler") or (len(paths) > 1 and not to_stdout)
            or (opts.get("jobs") or 1) > 1):
        if to_stdout:
            raise click.UsageError("-c cannot be combined with several files, -r or -j")
        _run_batch(list(paths), compress, opts)
        return
    failed = False
    for path in paths:
        try:
            out = _output_for(path, output, to_stdout, compress)
            if out != STDIO and path != STDIO and Path(out).resolve() == Path(path).resolve():
                raise ArzipError(f"{path}: input and output are the same file")
            (_compress_one if compress else _decompress_one)(path, out, opts)
        except (ArzipError, OSError) as exc:
            _report(path, exc)
            failed = True
        except KeyboardInterrupt as exc:
            _error(f"{signals.describe(exc)}; no output written")
            sys.exit(signals.exit_status(exc))
    if failed:
        sys.exit(1)


def _run_batch(paths: list[str], compress: bool | None, opts: dict) -> None:
    """Several files (folders with -r) on -j worker processes (default: one per core): a
    line per failure, one progress bar, a summary line; exit 1 if any file failed.
    `compress` None is `arzip test`."""
    if STDIO in paths:
        raise click.UsageError("standard input cannot be one of several inputs")
    items = batch.plan(paths, compress, bool(opts.get("recursive")), opts.get("model"),
                       opts.get("force", False), opts.get("remove", False), opts.get("level"))
    tasks = sum(isinstance(item, batch.Task) for item in items)
    jobs, failed = opts.get("jobs") or batch.default_jobs(tasks), False
    quiet, verbose = opts.get("quiet", False), opts.get("verbose", False)
    client = batch.client_for(opts["scheduler"]) if opts.get("scheduler") else None
    where = (f"Dask at {opts['scheduler']}" if client else
             f"{jobs} worker{'s' if jobs > 1 else ''}")
    progress = FileProgress(len(items), not quiet)
    start, raw, coded, done = time.perf_counter(), 0, 0, 0
    try:
        for result in batch.execute(items, jobs, client):
            progress.step(result.path)
            if not result.ok:
                progress.clear()
                _error(result.error)
                failed = True
                continue
            done, raw, coded = done + 1, raw + result.raw_bytes, coded + result.coded_bytes
            if verbose:
                progress.clear()
                _say(f"{result.path}: {result.raw_bytes} <-> {result.coded_bytes} bytes in "
                     f"{result.seconds:.1f}s" + (f" -> {result.out}" if result.out else ""),
                     False)
    except KeyboardInterrupt as exc:
        progress.clear()
        _error(f"{signals.describe(exc)}; unfinished outputs removed")
        sys.exit(signals.exit_status(exc))
    progress.clear()
    verb = {True: "compressed", False: "decompressed", None: "tested"}[compress]
    ratio = f" ({100 * coded / raw:.2f}%)" if raw else ""
    if client:
        client.close()
    _say(f"{done} of {len(items)} files {verb}, {raw} bytes <-> {coded} bytes{ratio}, "
         f"{where}, {time.perf_counter() - start:.1f}s", quiet)
    if failed:
        sys.exit(1)


_many_files = [  # compress, decompress and test
    click.option("-r", "--recursive", is_flag=True, help="Walk folders (as zstd -r)."),
    click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None,
                 help="Worker processes for several files [default: one per core]."),
    click.option("--scheduler", metavar="tcp://HOST:PORT",
                 help="Run the files on a Dask cluster (pip install 'arzip[dask]'; the "
                      "workers must see the same file system)."),
]
_common = [
    click.argument("files", nargs=-1, type=click.Path(dir_okay=True, allow_dash=True)),
    click.option("-o", "--output", help="Write to this file (single input only)."),
    click.option("-c", "--stdout", "to_stdout", is_flag=True, help="Write to standard output."),
    click.option("-f", "--force", is_flag=True, help="Overwrite existing output files."),
    click.option("-k", "--keep", is_flag=True, help="Keep input files (the default)."),
    click.option("--rm", "remove", is_flag=True,
                 help="Delete each input after its output was written and verified."),
    click.option("-q", "--quiet", is_flag=True, help="No messages but errors."),
    click.option("-v", "--verbose", is_flag=True, help="Report sizes and models."),
    *_many_files,
]


def _options(decorators: list):
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


common_options = _options(_common)


class _Main(click.Group):
    """The command group: termination signals clean up like Ctrl-C, and any interruption
    that a command did not report ends with one line and status 128 + signal number."""

    def invoke(self, ctx: click.Context):
        signals.install()
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            _error(signals.describe(exc))
            sys.exit(signals.exit_status(exc))


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version")
def main() -> None:
    """Lossless compression with autoregressive neural models."""


@main.command()
@common_options
@click.option("-m", "--model", help="Model id (see 'arzip models') or an exported model file.")
@click.option("-0", "level", flag_value=0, help="Classical methods only (zlib/lzma): fastest.")
@click.option("-1", "level", flag_value=1,
              help="Also context mixing without the network (no torch): fast.")
@click.option("-2", "level", flag_value=2, hidden=True)
@click.option("-3", "level", flag_value=3, hidden=True)
@click.option("-4", "level", flag_value=4, hidden=True)
@click.option("-5", "level", flag_value=5, hidden=True)
@click.option("-6", "level", flag_value=6, hidden=True)
@click.option("-7", "level", flag_value=7, hidden=True)
@click.option("-8", "level", flag_value=8, hidden=True)
@click.option("-9", "level", flag_value=9,
              help="The network on every block (no probe): slowest, smallest. "
                   "Default (-2 .. -8): the network where a short probe says it may win.")
def compress(files, output, to_stdout, keep, **opts) -> None:
    """Compress FILES (or stdin) to FILE.arz."""
    _run_each(files, output, to_stdout, True, opts)


@main.command()
@common_options
@click.option("-m", "--model", help="Model file to use when the needed model is not bundled.")
def decompress(files, output, to_stdout, keep, **opts) -> None:
    """Decompress FILE.arz (or stdin); the sha256 is verified before the output appears."""
    _run_each(files, output, to_stdout, False, opts)


@main.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-m", "--model", help="Model file to use when the needed model is not bundled.")
@click.option("-q", "--quiet", is_flag=True)
@click.option("--json", "as_json", is_flag=True,
              help="Report every block's status (ok, damaged, unreadable, not checked).")
@_options(_many_files)
def test_cmd(files, model, quiet, as_json, recursive, jobs, scheduler) -> None:
    """Decode FILES and verify their checksums without writing anything."""
    if not as_json and (recursive or scheduler or (jobs or 1) > 1 or len(files) > 1):
        _run_batch(list(files), None, {"model": model, "quiet": quiet, "recursive": recursive,
                                       "jobs": jobs, "verbose": not quiet,
                                       "scheduler": scheduler})
        return
    failed, reports = False, []
    for path in files:
        try:
            report = api.test_file(path, model=model, blocks=as_json)
            if as_json:
                reports.append(report)
                failed |= not report["ok"]
                continue
            _say(f"{path}: OK ({report['bytes']} bytes, sha256 {report['sha256'][:16]}…)", quiet)
        except (ArzipError, OSError) as exc:
            _report(path, exc)
            failed = True
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    sys.exit(1 if failed else 0)


def _content_line(codec_header: dict) -> str:
    """What a structured codec recorded about the file, e.g. its format and guarantee."""
    if not codec_header:
        return ""
    if codec_header.get("opened") == "deflate":
        return (f"  content     {codec_header.get('streams')} deflate stream(s) opened, "
                f"re-created with zlib (written with zlib {codec_header.get('zlib')})\n")
    size = (f"{codec_header['width']}x{codec_header['height']} "
            if "width" in codec_header and "height" in codec_header else "")
    if {"frames", "channels", "rate"} <= set(codec_header):
        size = (f"{codec_header['frames']} frames x {codec_header['channels']} channels "
                f"of {codec_header.get('bits', 16)}-bit samples at {codec_header['rate']} Hz")
    parts = [codec_header.get("format", "?"), f"{size}{codec_header.get('mode', '')}".strip()]
    guarantee = codec_header.get("guarantee")
    if guarantee:
        parts.append(f"restored {guarantee}")
    return f"  content     {', '.join(p for p in parts if p)}\n"


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(files, as_json) -> None:
    """Show codec, model, sizes and checksum of .arz FILES (no decoding)."""
    failed, reports = False, []
    for path in files:
        try:
            reports.append(api.info(path))
        except (ArzipError, OSError) as exc:
            _report(path, exc)
            failed = True
    for report in reports:
        if as_json:
            click.echo(json.dumps(report, indent=2))
            continue
        model = report["model"] or {}
        methods: dict[str, int] = {}
        for block in report["blocks"]:
            methods[block["method"]] = methods.get(block["method"], 0) + 1
        portable = ("portable: exact arithmetic, decodes on any machine" if report["portable"]
                    else "machine-bound: model data decodes only with arzip 0.1 on the "
                         "machine that wrote it")
        click.echo(f"{report['file']}\n  format      v{report['format_version']} "
                   f"({report['writer']}; {portable})\n"
                   f"  codec       {report['codec']}\n"
                   + _content_line(report["codec_header"]) +
                   f"  model       {model.get('name')}@{model.get('version')} "
                   f"(sha256 {str(model.get('sha256'))[:16]}…)\n"
                   f"  original    {report['original_bytes']} bytes\n"
                   f"  compressed  {report['compressed_bytes']} bytes"
                   + (f" ({report['bits_per_symbol']:.3f} bits/byte of the file)"
                      if "bits_per_symbol" in report else "")
                   + (f", {report['bits_per_subpixel']:.3f} bits/subpixel"
                      if "bits_per_subpixel" in report else "")
                   + (f", {report['bits_per_sample']:.3f} bits/sample"
                      if "bits_per_sample" in report else "") + "\n"
                   f"  blocks      {len(report['blocks'])} {methods}\n"
                   f"  sha256      {report['sha256']}"
                   + (f"… (first {report['sha256_bits']} bits)"
                      if report["sha256_bits"] < 256 else ""))
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True)
def models(as_json) -> None:
    """List the bundled models."""
    entries = [{"name": m.name, "codec": m.codec, "sha256": m.sha256, "config": m.config,
                "card": m.card} for m in zoo.list_models()]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for e in entries:
        click.echo(f"{e['name']:24} codec={e['codec']:8} sha256={e['sha256'][:16]}…  {e['card']}")


_SAMPLE_OPTIONS = {"text": {"length", "prompt", "network_only"}, "image": {"size"},
                   "audio": {"seconds", "rate"}}
_SUFFIX = {"text": ".txt", "image": ".png", "audio": ".wav"}


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not WIDTHxHEIGHT", param_hint="--size") from None
    if not (1 <= width <= 4096 and 1 <= height <= 4096):
        raise click.BadParameter("width and height must be 1 .. 4096", param_hint="--size")
    return width, height


@main.command("sample")
@click.argument("kind", type=click.Choice(sorted(sampling.KINDS)))
@click.option("-m", "--model", help="Model id or file [default: the kind's default model].")
@click.option("--length", type=click.IntRange(1, 1 << 20), default=400, show_default=True,
              help="Text: bytes to sample after the prompt.")
@click.option("--prompt", default="", help="Text: condition on this text (UTF-8).")
@click.option("--network-only", is_flag=True,
              help="Text: the network alone, without the adaptive mixer.")
@click.option("--size", default="64x64", show_default=True, help="Image: WIDTHxHEIGHT.")
@click.option("--seconds", type=click.FloatRange(0, 600, min_open=True), default=2.0,
              show_default=True, help="Audio: length.")
@click.option("--rate", type=click.IntRange(1000, 192000), default=16000, show_default=True,
              help="Audio: sample rate in Hz.")
@click.option("--seed", type=click.IntRange(0, (1 << 63) - 1), default=0, show_default=True,
              help="Same seed, model and arzip: the same sample on any machine.")
@click.option("--temperature", type=click.FloatRange(sampling.MIN_TEMPERATURE,
                                                     sampling.MAX_TEMPERATURE),
              default=1.0, show_default=True, help="Below 1 sharper, above 1 flatter.")
@click.option("-n", "count", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Number of samples (seeds SEED, SEED+1, ...).")
@click.option("-o", "--output", help="Output file (NAME-1.ext, NAME-2.ext, ... with -n); "
                                     "default: standard output.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line.")
@click.pass_context
def sample_cmd(ctx, kind, model, length, prompt, network_only, size, seconds, rate, seed,
               temperature, count, output, force, quiet) -> None:
    """Draw samples of KIND (text, image, audio) from a model: a decode of random bits."""
    for name, kinds in _SAMPLE_OPTIONS.items():
        for option in kinds:
            given = ctx.get_parameter_source(option) == click.core.ParameterSource.COMMANDLINE
            if given and name != kind:
                flag = "--" + option.replace("_", "-")
                raise click.UsageError(f"{flag} applies to {name} samples, not {kind}")
    options = {"text": lambda: {"length": length, "prompt": prompt.encode(),
                                "network_only": network_only},
               "image": lambda: dict(zip(("width", "height"), _parse_size(size), strict=True)),
               "audio": lambda: {"seconds": seconds, "rate": rate}}[kind]()
    if output is None and kind != "text":
        refuse_terminal(sys.stdout, f"{kind} data")
    totals = {"text": (length, ""), "image": (0, "subpixel"), "audio": (0, "sample")}
    try:
        for i in range(count):
            target = output
            if output and count > 1:
                path = Path(output)
                target = str(path.with_name(f"{path.stem}-{i + 1}{path.suffix or _SUFFIX[kind]}"))
            if target:
                check_output(target, force)
            progress = ProgressLine(target or kind, totals[kind][0] or None, not quiet,
                                    totals[kind][1])
            try:
                data = sampling.sample(kind, model, seed + i, temperature, progress, **options)
            finally:
                progress.clear()
            if target is None:
                sys.stdout.buffer.write(data + (b"\n" if kind == "text" else b""))
                sys.stdout.buffer.flush()
                continue
            with atomic_output(target, force) as dst:
                dst.write(data)
            _say(f"{target}: sample {i + 1} of {count} (seed {seed + i})", quiet)
    except (ArzipError, OSError) as exc:
        _report(output or "-", exc)
        sys.exit(1)


TRAIN_KINDS = {  # kind -> (codec id, default model name, default steps, training function)
    "text": ("bytes", "text-byte-small@3", 7000, "text.training:train_text_model"),
    "image": ("image", "image-pixelcnn-small@4", 4000, "image.training:train_image_model"),
    "audio": ("audio", "audio-wavenet-small@3", 10000, "audio.training:train_audio_model"),
}


@main.command()
@click.argument("kind", type=click.Choice(sorted(TRAIN_KINDS)))
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False),
              help="Training folder [default: ../shared/data/KIND/train].")
@click.option("--dev", "dev_dir", type=click.Path(exists=True, file_okay=False),
              default=None, help="Folder evaluated periodically (default: none).")
@click.option("--steps", type=int,
              help="Length of the schedule [default: 7000 text, 4000 image, 10000 audio].")
@click.option("--minutes", default=0.0, help="Stop after this many minutes (resumable).")
@click.option("--stop-at", default=0, help="Stop at this step (resumable).")
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Resumable checkpoint [default: ~/.cache/arzip/train/KIND.pt].")
@click.option("--export", "export_path", type=click.Path(dir_okay=False),
              help="Write the trained model here (an exported model file).")
@click.option("--name", help="Model id to export under [default: the bundled model's].")
@click.option("--seed", default=1234, show_default=True)
@click.option("--init", "init_path", type=click.Path(exists=True, dir_okay=False),
              help="Start from this exported model's weights (a new checkpoint only).")
@click.option("--lr", type=float, help="Peak learning rate [default: the codec's].")
@click.option("--threads", default=2, show_default=True, help="Torch threads.")
def train(kind, data_dir, dev_dir, steps, minutes, stop_at, checkpoint, export_path, name,
          seed, init_path, lr, threads) -> None:
    """Train (or resume training) a default model of KIND on a data folder."""
    from .train import TrainConfig

    codec_id, default_name, default_steps, function = TRAIN_KINDS[kind]
    data = Path(data_dir or f"../shared/data/{kind}/train")
    if not data.is_dir():
        raise click.UsageError(f"no training folder {data} (give one with --data)")
    ckpt = Path(checkpoint or Path.home() / f".cache/arzip/train/{kind}.pt")
    cfg = TrainConfig(steps=steps or default_steps, max_minutes=minutes, stop_at=stop_at,
                      seed=seed)
    module_name, _, function_name = function.partition(":")
    training = importlib.import_module(f"arzip.codecs.{module_name}")
    # a codec's training module may set its own TrainConfig fields (lr schedule)
    cfg = dataclasses.replace(cfg, **getattr(training, "SCHEDULE", {}))
    cfg = dataclasses.replace(cfg, init=init_path or "", threads=threads,
                              **({"lr": lr} if lr else {}))
    state = getattr(training, function_name)(data, Path(dev_dir) if dev_dir else None, ckpt, cfg)
    if export_path and os.environ.get("RANK", "0") == "0":  # under torchrun: rank 0 exports
        model_name = name or default_name
        model = training.build_model(state["model_config"])
        model.load_state_dict(state["model"])
        quant = training.calibration(model.eval(), data)  # scales of the exact network
        digest = zoo.export_model(Path(export_path), model_name, codec_id,
                                  state["model_config"], state["model"], quant)
        click.echo(f"exported {model_name} to {export_path} (sha256 {digest})", err=True)


class FileProgress:
    """A progress bar over files on stderr (when it is a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done = total, 0
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()

    def step(self, name: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        bar = "#" * (24 * self.done // max(1, self.total))
        sys.stderr.write(f"\r\033[K[{bar:24}] {self.done}/{self.total} files, "
                         f"{_clock(elapsed)} elapsed, ~{_clock(left)} left  {Path(name).name}")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1),
              help="Files benchmarked at a time, each in its own process.")
@click.option("-m", "--model", help="arzip model for every file [default: each kind's].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write every result, totals, machine and versions as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
              help="Write one line per file and codec.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write a PNG: bits/symbol per codec and kind, size against speed.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", is_flag=True, help="A line per file and codec on stderr.")
def bench(paths, jobs, model, json_path, csv_path, plot_path, quiet, verbose) -> None:
    """Compare arzip with the classical codecs of each file's kind on PATHS (files or
    folders, recursive); every result is decoded and checked against the original."""
    if plot_path:
        try:
            plots.pyplot()  # fail before the long run, not after it
        except ArzipError as exc:
            _error(str(exc))
            sys.exit(1)
    files = benchmark.list_files(list(paths))
    if not files:
        raise click.UsageError("no files found")
    progress, rows = FileProgress(len(files), not quiet), []
    try:
        for file_rows in benchmark.run(files, jobs, model):
            rows += file_rows
            progress.step(file_rows[0]["file"])
            if verbose:
                progress.clear()
                for r in file_rows:
                    _say(f"{r['file']}: {r['codec']}: {r['bytes']} bytes, "
                         + ("ok" if r["ok"] else f"FAILED ({r['error']})"), False)
    except KeyboardInterrupt as exc:
        progress.clear()
        _error(signals.describe(exc))
        sys.exit(signals.exit_status(exc))
    progress.clear()
    rows = benchmark.in_order(rows, files)
    summary = benchmark.summarise(rows)
    kinds = set(summary)
    skipped = {k: v for k, v in benchmark.skipped_codecs().items() if k in kinds}
    click.echo(benchmark.report(summary, skipped))
    if json_path:
        result = {"arzip": __version__, "paths": list(paths), "jobs": jobs,
                  "machine": benchmark.machine(), "units": benchmark.units(),
                  "skipped": skipped, "totals": summary, "files": rows}
        Path(json_path).write_text(json.dumps(result, indent=1))
    if csv_path:
        benchmark.write_csv(rows, csv_path)
    if plot_path:
        plots.bench_figure(summary, benchmark.units(), plot_path)
    failed = [r for r in rows if r["codec"] == benchmark.ARZIP and not r["ok"]]
    for r in failed:
        _error(f"{r['file']}: arzip round trip FAILED ({r['error']})")
    sys.exit(1 if failed else 0)


def _likelihood_table(evaluations: list[likelihood.Evaluation]) -> str:
    first = evaluations[0]
    lines = [f"{first.file} ({first.total_symbols:,} {first.unit}s; {first.sampling})",
             f"  {'model':30} {'unit':>9} {'NLL bits':>9} {'coded':>9} {'overhead':>9}"]
    for e in evaluations:
        lines.append(f"  {e.model[:30]:30} {e.unit:>9} {e.per_symbol(e.nll_bits):9.4f} "
                     f"{e.per_symbol(e.coded_bits):9.4f} {e.overhead_percent:+8.3f}%")
    for e in {e.codec: e for e in evaluations}.values():
        lines.append(f"  {f'order-0 entropy of the {e.unit}s':30} {e.unit:>9} "
                     f"{e.per_symbol(e.order0_bits):9.4f}")
    return "\n".join(lines)


def _map_path(out: str, file: str, several: bool, suffix: str) -> str:
    if not several:
        return out
    Path(out).mkdir(parents=True, exist_ok=True)
    return str(Path(out) / f"{Path(file).name}.bits{suffix}")


@main.command("likelihood")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@click.option("-m", "--model", "models", multiple=True,
              help="Also evaluate this model (repeatable; the default model always runs).")
@click.option("--map", "map_out", type=click.Path(),
              help="Write where the bits went (image: PNG heat map, text/bytes: HTML, "
                   "audio: PNG plot); with several FILES, a folder.")
@click.option("--sample", "max_symbols", default=likelihood.MAX_SYMBOLS, show_default=True,
              type=click.IntRange(1), help="Files with more symbols are sampled (segments).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def likelihood_cmd(files, models, map_out, max_symbols, as_json) -> None:
    """Model bits/symbol (NLL) next to the really coded bits and the order-0 entropy."""
    failed, results = False, []
    for path in files:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            _report(path, exc)
            failed = True
            continue
        evaluations = []
        for spec in (None, *models):
            progress = ProgressLine(f"{path} [{spec or 'default model'}]", None, True,
                                    "symbol")
            try:
                evaluations.append(likelihood.evaluate(data, spec, max_symbols, file=path,
                                                       progress=progress))
            except (ArzipError, OSError) as exc:
                _report(path, exc)
                failed = True
            finally:
                progress.clear()
        if not evaluations:
            continue
        results += [e.summary() for e in evaluations]
        if not as_json:
            click.echo(_likelihood_table(evaluations))
        if map_out:
            first = evaluations[0]
            surprise = registry.codec_module(first.codec, "surprise")
            out = _map_path(map_out, path, len(files) > 1, surprise.SUFFIX)
            try:
                _say(f"{out}: {surprise.render(first, out)}", False)
            except (ArzipError, OSError) as exc:
                _report(out, exc)
                failed = True
    if as_json:
        click.echo(json.dumps(results, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

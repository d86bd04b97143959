"""`python -m mrrrme.eval`: measure the mesh's perception on labelled data (docs/evaluation.md).

    python -m mrrrme.eval run PATH [--layout L] [--modalities face,voice,text,fused] [--backend lite]
                              [--backend face=full] [--limit N] [--split test] [--asr missing]
                              [--batch 8] [--out DIR] [--mesh [--nats-url URL]]
    python -m mrrrme.eval packaged [--out DIR] [--limit N]     # what ships in packages, no dataset needed
    python -m mrrrme.eval fit-fusion ...                       # fusion weights from a run's predictions

`run` reads the dataset (its layout detected, or `--layout`), sends each item through the services'
own pipelines (in process, or over NATS with `--mesh`) and writes the report (report.md, report.json,
PNG plots, predictions.jsonl) into `--out`.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mrrrme.eval.datasets import LAYOUTS, DatasetError, load
from mrrrme.eval.types import MODALITIES, Item, Modality, Prediction

T = TypeVar("T")
DEFAULT_OUT = Path("artifacts/eval")


def progress(items: Iterable[T], total: int, label: str) -> Iterator[T]:
    """tqdm's bar when it is installed, else one rewritten stderr line."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        yield from tqdm(items, total=total, desc=label, unit="item", file=sys.stderr)
        return
    started = time.monotonic()
    for done, value in enumerate(items, 1):
        yield value
        if done == total or done % 10 == 0:
            rate = done / max(time.monotonic() - started, 1e-9)
            print(f"\r{label}: {done}/{total} ({rate:.1f} items/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def sample(items: Sequence[Item], limit: int | None) -> list[Item]:
    """At most `limit` items spread evenly over the dataset's order (class folders, actors, sessions
    come in blocks: the first N would often be a single class)."""
    if not limit or limit >= len(items):
        return list(items)
    step = len(items) / limit
    return [items[math.floor(i * step)] for i in range(limit)]


def parse_backends(values: Sequence[str]) -> dict[str, str]:
    """`--backend full` (every service) and `--backend face=lite` (one service), later ones win."""
    chosen: dict[str, str] = {}
    for value in values:
        service, sep, backend = value.partition("=")
        if sep:
            chosen[service.strip()] = backend.strip()
        else:
            chosen.update(dict.fromkeys(("face", "voice", "text", "asr"), value.strip()))
    return chosen


def parse_modalities(value: str) -> tuple[Modality, ...]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODALITIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"modalities are a comma-separated subset of {','.join(MODALITIES)}")
    return tuple(name for name in MODALITIES if name in names)


def command_run(args: argparse.Namespace) -> int:
    from mrrrme.eval.runners import InProcess, Mesh, Options, run

    path = Path(args.path)
    try:
        items = sample(list(load(path, args.layout, args.split)), args.limit)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not items:
        print(f"error: {path} holds no items{f' in split {args.split!r}' if args.split else ''}", file=sys.stderr)
        return 2
    weights = None
    if args.weights:
        from mrrrme.backends import StartupError
        from mrrrme.registry import load_object

        try:  # the fusion service's own loader, through the registry (mrrrme/ imports no service)
            weights = load_object("services.fusion.learned:load")(Path(args.weights))
        except StartupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    options = Options(
        modalities=args.modalities,
        backends=parse_backends(args.backend),
        asr=args.asr,
        batch=args.batch,
        fusion_weights=weights,
    )
    engine = Mesh(options, args.nats_url) if args.mesh else InProcess(options)
    predictions: list[Prediction] = []
    with engine:
        for result in progress(run(items, engine, options), len(items), "evaluating"):
            predictions.extend(result.predictions)
    from mrrrme.eval.report import write_report

    notes = [
        f"command: `python -m mrrrme.eval {shlex.join(args.argv)}`",
        f"dataset: {path} ({args.layout or 'layout detected'}), {len(items)} items"
        + (f", split {args.split}" if args.split else ""),
        f"engine: {'mesh over NATS' if args.mesh else 'in process'}; backends: "
        + (", ".join(f"{k}={v}" for k, v in options.backends.items()) or "each service's setting"),
    ]
    report = write_report(Path(args.out), predictions, f"Evaluation of {path.name}", notes=notes, items=items)
    print(report)
    return 0


def command_packaged(args: argparse.Namespace) -> int:
    from mrrrme.eval.packaged import main

    return main(Path(args.out), args.limit, parse_backends(args.backend))


def command_fit_fusion(rest: list[str]) -> int:
    # mrrrme.eval.fusion_fit owns its options; imported only when asked for (it loads the fusion rules).
    from mrrrme.eval.fusion_fit import fit_fusion_command

    code: int = fit_fusion_command(rest)
    return code


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m mrrrme.eval", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="evaluate a labelled dataset on disk")
    run.add_argument("path", help="the dataset's folder or file")
    run.add_argument("--layout", choices=LAYOUTS, help="the dataset's layout (detected when not given)")
    run.add_argument("--modalities", type=parse_modalities, default=MODALITIES, help="e.g. face,voice,text,fused")
    run.add_argument("--backend", action="append", default=[], help="lite, full, or service=backend (repeatable)")
    run.add_argument("--limit", type=int, default=None, help="at most N items, spread over the dataset")
    run.add_argument("--split", default=None, help="only this split (train, dev, test)")
    run.add_argument(
        "--asr",
        choices=("off", "missing", "always"),
        default="off",
        help="recognise speech for the text modality: for items without a transcript, or always",
    )
    run.add_argument("--batch", type=int, default=1, help="items per model call (1: per-item latency)")
    run.add_argument("--out", default=str(DEFAULT_OUT), help="the report's folder")
    run.add_argument("--weights", default=None, help="fuse with a weights file from fit-fusion (default: 0.4/0.3/0.3)")
    run.add_argument("--mesh", action="store_true", help="over NATS: a private stack, or --nats-url's mesh")
    run.add_argument("--nats-url", default=None, help="with --mesh: a running mesh (without fusion and dialogue)")
    run.set_defaults(handler=command_run)
    packaged = commands.add_parser("packaged", help="measure on what ships in packages (no dataset needed)")
    packaged.add_argument("--out", default=str(DEFAULT_OUT / "packaged"))
    packaged.add_argument("--limit", type=int, default=None, help="at most N held-out tweets")
    packaged.add_argument("--backend", action="append", default=[], help="lite, full, or service=backend")
    packaged.set_defaults(handler=command_packaged)
    commands.add_parser("fit-fusion", help="fit fusion weights on a run's predictions", add_help=False)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fit-fusion"]:  # its own options belong to its own parser
        return command_fit_fusion(argv[1:])
    args = parser().parse_args(argv)
    args.argv = argv
    handler: Any = args.handler
    return int(handler(args))


if __name__ == "__main__":
    raise SystemExit(main())

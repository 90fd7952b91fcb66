"""The `labeler` command: a thin shell over core, store and ml.

Every command takes the project file first, exits 0 on success, and on bad input prints one
line on stderr, exits non-zero and changes nothing. `--json` prints one JSON document on
stdout; progress bars go to stderr. Heavy modules (torch, Qt) are imported only by the
commands that need them, so the CLI starts fast.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from labeler import __version__
from labeler.core.errors import LabelerError

if TYPE_CHECKING:  # the CLI imports the formats only when a command needs them
    from labeler.core.formats import Detection


# -- output helpers ---------------------------------------------------------------------
class ProgressBar:
    """A progress bar on stderr, drawn only when stderr is a terminal (quiet in logs)."""

    def __init__(self, label: str, enabled: bool | None = None) -> None:
        self.label = label
        forced = os.environ.get("LABELER_PROGRESS")
        self.enabled = (forced == "1") if forced in ("0", "1") else sys.stderr.isatty()
        if enabled is not None:
            self.enabled = enabled
        self.start = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        width = 30
        frac = done / total if total else 0.0
        bar = "#" * int(frac * width)
        rate = done / max(now - self.start, 1e-9)
        sys.stderr.write(
            f"\r{self.label} [{bar:<{width}}] {done}/{total} {rate:,.0f}/s"
            + ("\n" if total and done >= total else "")
        )
        sys.stderr.flush()


def emit(args: argparse.Namespace, data: Any, human: Callable[[], None]) -> None:
    """Print `data` as JSON with --json, else call `human` to print it for people."""
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        human()


def one_line(text: str) -> str:
    """Text holding file names, printable on one line: C0 control characters and line
    separators (a newline in a file name) and bytes that are not UTF-8 are shown escaped
    (``\\n``, ``\\u2028``, ``\\xff``); printing the raw text would break the line, drive the
    terminal (ESC), or fail."""
    out = []
    for c in text:
        o = ord(c)
        if 0xDC80 <= o <= 0xDCFF:  # a byte that is not UTF-8, as Python holds it
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 32 or c in "\u2028\u2029\x85":  # a line break, or ESC driving the terminal
            out.append(c.encode("unicode_escape").decode("ascii"))
        else:
            out.append(c)
    return "".join(out)


def _open(path: str):
    from labeler.store.project import Project

    return Project.open(path)


# -- commands ---------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from labeler.store.project import Project

    with Project.create(args.project) as p:
        emit(
            args,
            {"project": str(p.path), "schema": p.schema_version},
            lambda: print(f"created {p.path}"),
        )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from labeler.app.annotations import FOLDER, choose_format
    from labeler.app.imports import import_folders

    if any(not src.strip() for src in args.sources):
        raise LabelerError("an empty SOURCE was given (it would mean the current folder)")
    found = choose_format(args.sources, args.format, args.labels_from_folders, args.copy)
    if found.format != FOLDER:
        return _import_annotations(args, found)
    with _open(args.project) as p:
        bar = ProgressBar("importing")
        report = import_folders(
            p,
            args.sources,
            labels_from_folders=args.labels_from_folders,
            copy=args.copy,
            progress=bar,
        )

        def human() -> None:
            if found.asked == "auto":
                print(f"format: folder of images ({found.reason})")
                for line in found.unused:
                    print(f"not read: {one_line(line)}")
            print(
                f"added {report.added} image(s); {report.already_present} already in the"
                f" project; {len(report.duplicates)} duplicate(s);"
                f" {len(report.skipped)} skipped"
                + (f"; {report.relinked} relinked" if report.relinked else "")
            )
            if report.classes_created:
                print(f"classes created: {', '.join(report.classes_created)}")
            if report.untagged:
                print(f"{report.untagged} image(s) imported untagged: see the folders below")
            for u in report.untagged_folders:
                print(
                    f"untagged: {one_line(u.path)}: {u.images} image(s) imported without a tag:"
                    f" {u.reason}"
                )
            for s in report.duplicates:
                print(f"duplicate: {one_line(s.path)}: {one_line(s.reason)}")
            for s in report.skipped:
                print(f"skipped: {one_line(s.path)}: {one_line(s.reason)}")

        emit(args, {"format": FOLDER, "detection": found.to_json()} | report.to_dict(), human)
    return 0


def _import_annotations(args: argparse.Namespace, found: Detection) -> int:
    from labeler.app.annotations import import_annotations

    if args.labels_from_folders or args.copy:
        raise LabelerError("--labels-from-folders and --copy apply to folder imports only")
    with _open(args.project) as p:
        # `found` says why it chose the format when it was asked for "auto"
        report = import_annotations(p, args.sources[0], found, progress=ProgressBar("importing"))

        def human() -> None:
            fmt = report.format
            print(
                f"{fmt}: added {report.images_added} image(s), {report.shapes_added} shape(s);"
                f" {report.images_known} image(s) already in the project;"
                f" {len(report.problems)} problem(s)"
            )
            found = report.detection
            if found is not None and found.asked == "auto":
                print(f"format: {fmt}, found {found.reason}")
                if found.also:
                    print(f"format: also matches {', '.join(found.also)}; pass --format to choose")
                for line in found.unused:
                    print(f"not read: {line}")
            for folder, n in _by_folder(report.unannotated):
                print(f"imported without annotations: {folder}: {n} image(s) no annotation names")
            reasons: dict[str, list[str]] = {}
            for path, why in report.not_imported:
                reasons.setdefault(why, []).append(path)
            for why, paths in reasons.items():
                for folder, n in _by_folder(paths):
                    print(f"not imported: {folder}: {n} image(s): {why}")
            if report.classes_created:
                print(f"classes created: {', '.join(report.classes_created)}")
            for line in report.problems:
                print(f"problem: {one_line(line)}")

        emit(args, report.to_dict(), human)
    return 0


def _by_folder(paths: Sequence[str]) -> list[tuple[str, int]]:
    """(folder/, count) for relative POSIX paths, in first-seen order: thousands of images
    left out of an import read as a few lines (``--json`` lists each one)."""
    from labeler.core.formats._io import one_line

    counts: dict[str, int] = {}
    for path in paths:
        folder = one_line(path.rsplit("/", 1)[0] + "/" if "/" in path else "./")
        counts[folder] = counts.get(folder, 0) + 1
    return list(counts.items())


def _class_dict(c) -> dict:
    return {"id": c.id, "name": c.name, "colour": c.colour, "shortcut": c.shortcut}


def cmd_classes(args: argparse.Namespace) -> int:
    from labeler.store.proposals import class_proposals

    with _open(args.project) as p:
        action = args.action
        params = args.names
        expected = {"list": 0, "rename": 2, "merge": 2, "remove": 1}
        if action == "add":
            if not params:
                raise LabelerError("classes add needs at least one NAME")
        elif len(params) != expected[action]:
            raise LabelerError(
                f"classes {action} takes {expected[action]} name(s), got {len(params)}"
            )
        result: dict[str, Any] = {}
        if action == "add":
            for name in params:  # validate all first: bad input changes nothing
                if p.class_by_name(name) is not None:
                    raise LabelerError(f"class {name.strip()!r} already exists")
            if len({n.strip().lower() for n in params}) != len(params):
                raise LabelerError("the same class name is given twice")
            with p.atomic():
                added = [p.add_class(n) for n in params]
            result = {"added": [_class_dict(c) for c in added]}
        elif action == "rename":
            result = {"renamed": _class_dict(p.rename_class(*params))}
        elif action == "merge":
            proposals = class_proposals(p, p.require_class(params[0]).id)
            result = {"moved_shapes": p.merge_classes(*params), "into": params[1]}
            result["moved_proposals"] = proposals
        elif action == "remove":
            proposals = class_proposals(p, p.require_class(params[0]).id)
            result = {
                "removed": params[0],
                "deleted_shapes": p.remove_class(params[0], force=args.force),
                "deleted_proposals": proposals,
            }
        stats = {c["id"]: c for c in p.stats()["classes"]}
        listing = [
            _class_dict(c) | {"images": stats[c.id]["images"], "shapes": stats[c.id]["shapes"]}
            for c in p.classes()
        ]
        result["classes"] = listing

        def human() -> None:
            if action == "add":
                print("added " + ", ".join(c["name"] for c in result["added"]))
            elif action == "rename":
                print(f"renamed {params[0]!r} to {result['renamed']['name']!r}")
            elif action == "merge":
                print(
                    f"merged {params[0]!r} into {params[1]!r} ({result['moved_shapes']} shape(s) moved)"
                    + (f", {proposals} pending proposal(s) moved too" if proposals else "")
                )
            elif action == "remove":
                print(
                    f"removed {params[0]!r} ({result['deleted_shapes']} shape(s) deleted)"
                    + (f", {proposals} pending proposal(s) removed with it" if proposals else "")
                )
            for c in listing:
                key = c["shortcut"] or "-"
                print(
                    f"{c['id']:>4}  [{key}] {c['name']:<24} {c['images']:>7} images  {c['shapes']:>7} shapes  {c['colour']}"
                )

        emit(args, result, human)
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    with _open(args.project) as p:
        image = p.find_image(args.image)
        cls = p.require_class(args.cls)
        removed = p.set_tag(image.id, cls.id)
        names = {c.id: c.name for c in p.classes()}
        tags = [names[s.class_id] for s in p.shapes(image.id) if s.kind == "tag"]
        data = {
            "image": image.id,
            "path": image.path,
            "tags": tags,
            "replaced": [names.get(s.class_id) for s in removed],
        }
        emit(args, data, lambda: print(f"{image.path}: {', '.join(tags)}"))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args.project) as p:
        s = p.stats()

        def human() -> None:
            sp = s["splits"]
            print(
                f"{s['images']} images ({s['unlabeled']} unlabeled, {s['generated']} generated);"
                f" train {sp['train']}, val {sp['val']}, test {sp['test']},"
                f" unassigned {sp['unassigned']}"
            )
            print(f"{'class':<24}{'images':>8}{'shapes':>8}{'train':>8}{'val':>8}{'test':>8}")
            for c in s["classes"]:
                cs = c["splits"]
                print(
                    f"{c['name']:<24}{c['images']:>8}{c['shapes']:>8}"
                    f"{cs['train']:>8}{cs['val']:>8}{cs['test']:>8}"
                )
            ratio = s["imbalance_ratio"]
            print(f"imbalance ratio: {ratio if ratio is not None else 'n/a'}")

        emit(args, s, human)
    return 0


def cmd_recipe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from labeler.core.augment import Recipe, load_recipe
    from labeler.store import recipes as store

    needs_arg = {"add": "FILE.json", "show": "NAME", "remove": "NAME", "preview": "NAME"}
    if args.action in needs_arg and args.arg is None:
        raise LabelerError(f"recipe {args.action} needs {needs_arg[args.action]}")
    with _open(args.project) as p:
        if args.action == "list":
            rows = []
            for r in store.list_recipes(p):
                recipe = Recipe.from_dict(r.definition)
                rows.append({"name": r.name, "ops": [op.name for op in recipe.ops()]})

            def human() -> None:
                for r in rows:
                    print(f"{r['name']:<24}{', '.join(r['ops'])}")
                if not rows:
                    print("no recipes yet (add one with: labeler recipe PROJECT add FILE.json)")

            emit(args, {"recipes": rows}, human)
        elif args.action == "add":
            recipe = load_recipe(args.arg)
            name = args.name or recipe.name or Path(args.arg).stem
            store.save_recipe(p, name, recipe.to_dict(), replace=args.replace)
            emit(args, {"added": name, "ops": [op.name for op in recipe.ops()]},
                 lambda: print(f"added recipe {name!r}"))  # fmt: skip
        elif args.action == "show":
            definition = Recipe.from_dict(store.require_recipe(p, args.arg).definition).to_dict()
            json.dump(definition, sys.stdout, indent=2)
            sys.stdout.write("\n")
        elif args.action == "remove":
            store.remove_recipe(p, args.arg)
            emit(args, {"removed": args.arg}, lambda: print(f"removed recipe {args.arg!r}"))
        elif args.action == "preview":
            _recipe_preview(args, p)
    return 0


def _recipe_preview(args: argparse.Namespace, p) -> None:
    from labeler.app.recipes import write_preview

    if args.image is None or args.out is None:
        raise LabelerError("recipe preview needs --image IMAGE and --out GRID.png")
    _, image = write_preview(p, args.arg, args.image, args.out, n=args.n, seed=args.seed)
    emit(args, {"out": str(args.out), "n": args.n, "seed": args.seed, "image": image.id},
         lambda: print(f"wrote {args.out} ({args.n} copies of {image.path})"))  # fmt: skip


def cmd_split(args: argparse.Namespace) -> int:
    from labeler.app.splits import split_json, split_project

    with _open(args.project) as p:
        plan = split_project(
            p,
            args.ratios,
            args.seed,
            reshuffle=args.reshuffle,
            group_by_folder=args.group_by_folder,
        )
        data = split_json(p, plan)

        def human() -> None:
            im = data["images"]
            print(
                f"train {im['train']}, val {im['val']}, test {im['test']} images"
                f" ({data['new']} newly assigned, {data['moved']} moved; seed {data['seed']})"
            )
            print(f"{'class':<24}{'train':>8}{'val':>8}{'test':>8}{'max dev':>9}")
            for name, dev in data["deviation"].items():
                cc = data["class_counts"]
                print(
                    f"{name:<24}{cc['train'].get(name, 0):>8}{cc['val'].get(name, 0):>8}"
                    f"{cc['test'].get(name, 0):>8}{dev:>9.3f}"
                )

        emit(args, data, human)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from labeler.app.exports import export_project

    with _open(args.project) as p:
        bar = ProgressBar("exporting")
        outcome = export_project(
            p,
            args.format,
            args.out,
            seed=args.seed,
            recipe=args.recipe,
            multiplier=args.multiplier,
            strip_metadata=args.strip_metadata,
            overwrite=args.overwrite,
            progress=bar,
        )
        data = outcome.to_json()

        def human() -> None:
            r = data
            print(
                f"exported version {r['version']} ({r['format']}) to {r['out_dir']}:"
                f" train {r['images'].get('train', 0)}, val {r['images'].get('val', 0)},"
                f" test {r['images'].get('test', 0)} images"
                + (f" ({r['augmented']} augmented)" if r["augmented"] else "")
            )
            if r["auto_split"]:
                print(f"{r['auto_split']} image(s) had no split and were assigned one first")
            for split, classes in r["shapes"].items():
                for cls, kinds in classes.items():
                    kinds_text = ", ".join(f"{n} {k}" for k, n in kinds.items())
                    print(f"  {split:<6}{cls:<24}{kinds_text}")
            for s in r["skipped"]:
                print(f"not exported: {one_line(s['file_name'])}: {one_line(s['reason'])}")
            for w in r["warnings"]:
                print(f"warning: {w}")
            checked = (
                "checked: re-read the export and found what was written"
                if r["verified"]
                else "NOT verified"
            )
            # never a bare "checked" over an export that left images or labels out
            if r["not_exported"]:
                checked += (
                    f"; {r['not_exported']} of {r['project_images']} project image(s) are NOT in it"
                )
            if r["warnings"]:
                checked += f"; {len(r['warnings'])} warning(s) above"
            print(checked)

        emit(args, data, human)
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from labeler.app.health import project_health, write_html
    from labeler.app.outputs import check_output_path

    with _open(args.project) as p:
        if args.html:  # refuse a bad --html before the checks run, not after
            check_output_path(p, args.html, kind="file")
        report = project_health(p, decode_images=not args.quick, progress=ProgressBar("checking"))
        html = (
            write_html(report, args.html, f"Health of {p.path.name}", project=p)
            if args.html
            else None
        )

        def human() -> None:
            counts = report.severity_counts()
            print(
                f"{len(report.findings)} finding(s): {counts.get('error', 0)} error(s),"
                f" {counts.get('warning', 0)} warning(s), {counts.get('info', 0)} note(s)"
            )
            for f in report.findings:
                print(f"[{f.severity}] {f.title}: {f.message}")
                if f.suggestion:
                    print(f"    -> {f.suggestion}")
            if html:
                print(f"report written to {html}")

        if args.json:
            sys.stdout.write(report.to_json(indent=2) + "\n")
        else:
            human()
    return 0


def _gan_progress(kind: str, device: str | None = None) -> Callable[[dict], None]:
    """Training progress as a line on stderr every few seconds (and at the end). The note on
    the device comes with the first report: a command refused before its work starts prints
    its one error line and nothing else."""
    last = [0.0]
    noted = [device is None]

    def report(info: dict) -> None:
        if not noted[0]:
            noted[0] = True
            _device_note(device)  # type: ignore[arg-type]
        if info.get("estimated_s") is not None:  # said once, before the training starts
            print(_estimate_line(kind, info), file=sys.stderr)
            return
        now = time.monotonic()
        if now - last[0] < 2.0:
            return
        last[0] = now
        if kind == "train":
            losses = " ".join(f"{k}={v:.3f}" for k, v in (info.get("losses") or {}).items())
            eta = info.get("eta_s")
            print(
                f"step {info.get('step')}  {info.get('images_per_s', 0):,.0f} img/s  {losses}"
                + (f"  eta {eta / 60:.1f} min" if eta else "")
                + f"  [{info.get('device', '')}]",
                file=sys.stderr,
            )
        else:
            print(" ".join(f"{k}={v}" for k, v in info.items() if not isinstance(v, dict)),
                  file=sys.stderr)  # fmt: skip

    return report


def _estimate_line(kind: str, info: dict) -> str:
    """The measured estimate of a classifier training, before it starts (issue 15)."""
    from labeler.app.gan_session import duration

    est, dev, arch = info["estimated_s"], info.get("device", ""), info.get("arch")
    if kind == "suggest":
        line = (
            f"training the suggestion classifier ({arch}, {info.get('steps')} steps on {dev}):"
            f" about {duration(est)}"
        )
        if info.get("retrained"):  # a cache that cannot be used, and why
            line = f"{info['retrained']}: {line}"
    else:
        line = (
            f"training {info.get('trainings')} classifiers ({info.get('steps')} steps each):"
            f" about {duration(est)}"
        )
    if arch == "resnet18" and str(dev).startswith("cpu") and est > 300:
        line += "; --arch small trains many times faster on a CPU"
    return line


def _device_note(device: str) -> None:
    if device.startswith("cpu"):
        print(
            "labeler: warning: no CUDA GPU in use; running on the CPU (slow: keep"
            " --resolution 32 and few steps)",
            file=sys.stderr,
        )
    else:
        print(f"labeler: using {device}", file=sys.stderr)


def cmd_gan(args: argparse.Namespace) -> int:
    import warnings

    from labeler.app import gan as jobs
    from labeler.ml.device import CPU_WARNING, resolve_device

    # The CLI says it once, in its own words (_device_note), not as a Python warning.
    warnings.filterwarnings("ignore", message=re.escape(CPU_WARNING))
    _check_gan_numbers(args)
    with _open(args.project) as p:
        device = None
        if args.action != "review":
            device = str(resolve_device(args.device)[0])
        if args.action == "train":
            if args.steps is None and args.minutes is None:
                raise LabelerError("gan train needs --steps N or --minutes M")
            data = jobs.train(
                p, resolution=args.resolution, steps=args.steps, minutes=args.minutes,
                device=args.device, width=args.width, batch_size=args.batch_size,
                progress=_gan_progress("train", device),
            )  # fmt: skip
            _warn(data)
            emit(args, data, lambda: print(
                f"trained to step {data['step']} on {data['device']}"
                f" ({data['images_per_s']:,.0f} img/s); checkpoint {data['checkpoint']}"
            ))  # fmt: skip
        elif args.action == "suggest":
            target = args.target if args.target in ("max", "median") else _int(args.target)
            if not 0 <= args.p_min <= 1:
                raise LabelerError(f"--p-min must be between 0 and 1, not {args.p_min}")
            data = jobs.suggest(
                p, target=target, device=args.device, classifier_epochs=args.classifier_epochs,
                arch=args.arch, p_min=args.p_min, progress=_gan_progress("suggest", device),
            )  # fmt: skip

            def human() -> None:
                if data.get("cancelled"):
                    print("cancelled: nothing was suggested")
                print(f"{len(data['suggestions'])} suggestion(s) waiting for review")
                for name, c in data["per_class"].items():
                    print(
                        f"  {name:<20} deficit {c['deficit']:>5}  pool {c['pool']:>6}  accepted"
                        f" {c['accepted']:>5}  rejected: classifier {c['rejected_classifier']},"
                        f" memorised {c['rejected_memorised']}, duplicate {c['rejected_duplicate']}"
                    )

            _warn(data)
            emit(args, data, human)
        elif args.action == "review":
            _gan_review(args, p)
        elif args.action == "evaluate":
            data = jobs.evaluate(
                p, epochs=args.epochs, device=args.device, arch=args.arch, seeds=args.seeds,
                gen_weight=args.gen_weight, batch_size=args.batch_size,
                progress=_gan_progress("evaluate", device),
            )  # fmt: skip
            _warn(data)
            emit(args, data, lambda: _print_evaluation(data))
    return 0


def _print_evaluation(data: dict) -> None:
    """The rows as mean ± spread over the seeds, the best baseline marked, then the verdict."""
    seeds = data.get("seeds", [])
    print(
        f"{len(seeds)} seed(s) {seeds}; each cell: mean ± {data.get('spread', 'std')} over seeds;"
        f" {data['budget']['steps']} steps of {data['budget']['batch_size']} on {data['device']}"
    )
    cols = (("accuracy", "accuracy"), ("macro_recall", "macro recall"),
            ("thin_recall", "thin recall"), ("thin_f1", "thin F1"))  # fmt: skip
    print(f"{'training set':<24}" + "".join(f"{t:>16}" for _k, t in cols))
    for name, summary in data["summary"].items():
        mark = " *" if name == data.get("best_baseline") else ""
        cells = "".join(
            f"{summary[k]['mean']:>9.3f} ±{summary[k]['spread']:.3f}"
            if k in summary
            else f"{'—':>16}"
            for k, _t in cols
        )
        print(f"{name + mark:<24}{cells}")
    if data.get("best_baseline"):
        print("* best baseline (highest mean thin recall)")
    if data.get("verdict"):
        print(data["verdict"]["text"])
    else:
        print("No accepted generated images: only the baselines were trained.")


# What a GAN command takes at the most: beyond these a run would not end (1e300 epochs) or a
# batch would not fit in any memory (the throughput probe stops at 4,096 too).
MAX_EPOCHS = 10_000
MAX_BATCH = 4096
MAX_STEPS = 10_000_000
MAX_MINUTES = 7 * 24 * 60


def _check_gan_numbers(args: argparse.Namespace) -> None:
    """Counts and budgets must be positive (and finite) before anything starts."""
    for flag, value in (
        ("--steps", args.steps), ("--minutes", args.minutes), ("--batch-size", args.batch_size),
        ("--epochs", args.epochs), ("--classifier-epochs", args.classifier_epochs),
        ("--accept-top", args.accept_top), ("--seeds", args.seeds),
    ):  # fmt: skip
        if value is not None and not (math.isfinite(value) and value > 0):
            raise LabelerError(f"{flag} must be a positive number, not {value}")
    for flag, value, most in (
        ("--epochs", args.epochs, MAX_EPOCHS), ("--classifier-epochs", args.classifier_epochs,
        MAX_EPOCHS), ("--batch-size", args.batch_size, MAX_BATCH), ("--steps", args.steps,
        MAX_STEPS), ("--minutes", args.minutes, MAX_MINUTES),
    ):  # fmt: skip
        if value is not None and value > most:
            raise LabelerError(f"{flag} must be at most {most:,}, not {value:g}")
    from labeler.ml.evaluate import MAX_SEEDS

    if args.seeds > MAX_SEEDS:
        raise LabelerError(f"--seeds must be 1..{MAX_SEEDS}, not {args.seeds}")
    if args.gen_weight is not None and not (
        math.isfinite(args.gen_weight) and 0 <= args.gen_weight <= 1
    ):
        raise LabelerError(f"--gen-weight must be between 0 and 1, not {args.gen_weight}")


def _warn(data: dict) -> None:
    """A GAN command's warnings, one line each on stderr (the CPU's was said before it ran)."""
    for w in data.get("warnings") or []:
        if not str(w).startswith("No CUDA GPU"):
            print(f"labeler: warning: {one_line(str(w))}", file=sys.stderr)


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise LabelerError(f"--target must be max, median or a count, not {text!r}") from None
    if value < 1:
        raise LabelerError("--target must be at least 1")
    return value


def _gan_review(args: argparse.Namespace, p) -> None:
    from labeler.app.gan import review
    from labeler.store.gan import list_suggestions

    accepted, image_ids = review(
        p, accept=args.accept or [], reject=args.reject or [], accept_top=args.accept_top
    )
    names = {c.id: c.name for c in p.classes()}
    left = list_suggestions(p, status="pending")
    data = {
        "accepted": accepted,
        "images": image_ids,
        "rejected": list(args.reject or []),
        "pending": [
            {"id": s.id, "class": names.get(s.class_id), "seed": s.seed, "path": s.path,
             "p_class": s.scores.get("p_class"), "nn_image_id": s.nn_image_id}
            for s in left
        ],
    }  # fmt: skip

    def human() -> None:
        print(f"accepted {len(accepted)}, rejected {len(data['rejected'])}, pending {len(left)}")
        for s in data["pending"]:
            print(f"  {s['id']:>6}  {s['class']:<20} p={s['p_class']:.2f}  {s['path']}")

    emit(args, data, human)


def cmd_plugins(args: argparse.Namespace) -> int:
    from labeler.plugins import plugins_list_command

    return plugins_list_command(json_output=args.json)


def cmd_gui(args: argparse.Namespace) -> int:
    from labeler.gui.app import run_gui  # Qt is imported only for this command

    return run_gui(args.project)


# -- assists and pre-labels (issue 18) ------------------------------------------------------
def _refuse_unused_assist_options(args: argparse.Namespace) -> None:
    """A one-line refusal for options the chosen assist would ignore without a word."""
    from labeler.core.assists import ASSISTS

    needs = ASSISTS.get(args.method).needs  # an unknown method is named here, first
    given = {
        "--box": args.box is not None,
        "--point": args.point is not None,
        "--tolerance": args.tolerance is not None,
        "--edges": args.edges,
        "--fg": bool(args.fg),
        "--bg": bool(args.bg),
    }
    unused = {"box": ["--point"], "point": ["--box"]}[needs]
    if args.method == "grabcut":
        unused += ["--tolerance", "--edges"]
    elif args.method == "wand":
        unused += ["--fg", "--bg"]
    bad = [flag for flag in unused if given[flag]]
    if bad:
        raise LabelerError(
            f"{', '.join(bad)} {'does' if len(bad) == 1 else 'do'} not apply to assist"
            f" {args.method!r} (it takes a {needs})"
        )


def cmd_assist(args: argparse.Namespace) -> int:
    from labeler.app.assists import AssistRequest, Strokes, run_assist, write_polygon

    _refuse_unused_assist_options(args)
    strokes = None
    if args.fg or args.bg:
        line = lambda v: ((v[0], v[1]), (v[2], v[3]))  # noqa: E731
        strokes = Strokes(tuple(map(line, args.fg or [])), tuple(map(line, args.bg or [])))
    request = AssistRequest(
        box=tuple(args.box) if args.box else None,
        point=tuple(args.point) if args.point else None,
        strokes=strokes,
        tolerance=24.0 if args.tolerance is None else args.tolerance,
        use_edges=args.edges,
    )
    with _open(args.project) as p:
        cls = None
        if args.write is not None:
            cls = p.require_class(args.write)  # an unknown class is refused before any work
        result = run_assist(p, args.image, args.method, request)
        if result.note:
            print(f"labeler: warning: {result.note}", file=sys.stderr)
        data = result.to_dict()
        if cls is not None:
            edit = write_polygon(p, result.image_id, cls.name, result.polygon)
            data["shape"] = edit.shapes[0].id
            data["class"] = cls.name  # as stored: " CAT " finds and reports "cat"

        def human() -> None:
            print(" ".join(f"{x:g},{y:g}" for x, y in result.polygon))
            if cls is not None:
                print(
                    f"stored as shape {data['shape']} ({cls.name}), {len(result.polygon)} vertices"
                )

        emit(args, data, human)
    return 0


_PRELABEL_DEFAULTS: dict[str, Any] = {
    "order": "uncertainty",
    "min_per_class": 10,
    "model": "features",
    "arch": "resnet18",
    "device": "auto",
    "epochs": 30.0,
    "resolution": 32,
    "seed": 0,
}
_CNN_ONLY = ("arch", "device", "epochs", "resolution")


def _prelabel_options(args: argparse.Namespace) -> None:
    """Refuse in one line the options this run would ignore; then fill in the defaults."""
    if args.accept and args.list:
        raise LabelerError("--accept and --list do not go together: run one, then the other")
    given = [k for k in _PRELABEL_DEFAULTS if getattr(args, k) is not None]
    if args.accept or args.list:
        where = "--accept" if args.accept else "--list"
        unused = [k for k in given if not (args.list and k == "order")]
    else:
        where = "training"
        unused = [k for k in given if k == "order"]
        if args.model in (None, "features"):
            where = "training (--model features)"
            unused += [k for k in given if k in _CNN_ONLY]
    if unused:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        raise LabelerError(f"{flags} {'does' if len(unused) == 1 else 'do'} not apply to {where}")
    for k, v in _PRELABEL_DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)


def cmd_prelabel(args: argparse.Namespace) -> int:
    from labeler.app.prelabel import (
        CnnOptions,
        accept_proposal,
        by_uncertainty,
        check_cnn_options,
        pending,
        run_prelabel,
    )
    from labeler.store.proposals import latest_run

    _prelabel_options(args)
    with _open(args.project) as p:
        names = {c.id: c.name for c in p.classes()}

        def rows(props) -> list[dict]:
            return [
                {"image": q.image_id, "path": p.image(q.image_id).path,
                 "class": names.get(q.class_id), "confidence": round(q.confidence, 4),
                 "uncertainty": round(q.uncertainty, 4)}
                for q in props
            ]  # fmt: skip

        if args.accept:
            accepted = []
            with p.atomic():  # all or none: a bad IMAGE leaves every proposal pending
                seen: set[int] = set()
                for ref in args.accept:
                    image_id = p.find_image(ref).id
                    if image_id in seen:  # "--accept 35 35" accepts image 35 once
                        continue
                    seen.add(image_id)
                    edit = accept_proposal(p, str(image_id))
                    accepted.append({"image": edit.image_id, "class": names[edit.class_id]})
            emit(
                args,
                {"accepted": accepted},
                lambda: [print(f"{a['image']}: {a['class']}") for a in accepted],
            )
            return 0
        if args.list:
            run = latest_run(p)
            listed = rows(by_uncertainty(p) if args.order == "uncertainty" else pending(p))
            data = {
                "balanced_accuracy": run.balanced_accuracy if run else None,
                "proposals": listed,
            }

            def show() -> None:
                if run is not None:
                    print(f"model: {run.balanced_accuracy:.0%} balanced accuracy (held out)")
                for r in listed:
                    print(f"{r['image']:>7}  {r['class']:<20} {r['confidence']:.2f}  {r['path']}")

            emit(args, data, show)
            return 0
        cnn = CnnOptions(args.arch, args.device, args.epochs, args.resolution)
        if args.model == "cnn":
            import warnings

            from labeler.ml.device import CPU_WARNING, resolve_device

            warnings.filterwarnings("ignore", message=re.escape(CPU_WARNING))
            check_cnn_options(cnn)  # refusals come alone, with no device note before them
            _device_note(str(resolve_device(args.device)[0]))
        report = run_prelabel(
            p,
            min_per_class=args.min_per_class,
            seed=args.seed,
            model=args.model,
            cnn=cnn,
            progress=ProgressBar("images" if args.model == "features" else "reading, training"),
        )
        data = report.to_dict()

        def human() -> None:
            print(report.reason)
            if report.offered:
                print(f"{report.proposals} proposal(s) written for unlabeled images;"
                      " accept with: labeler prelabel PROJECT --accept IMAGE")  # fmt: skip
            for name, n in report.left_out.items():
                print(f"class left out: {name} ({n} labelled, needs {args.min_per_class})")
            for line in report.unreadable:
                print(f"unreadable: {one_line(line)}")

        emit(args, data, human)
    return 0


def _add_assist_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    sp = command("assist", cmd_assist, "box or click to polygon (GrabCut, magic wand, plugins)")
    sp.add_argument("project")
    sp.add_argument("image", metavar="IMAGE", help="id, path or file name")
    sp.add_argument("--method", default="grabcut", help="grabcut (default), wand, or a plugin's")
    sp.add_argument("--box", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"))
    sp.add_argument("--point", type=float, nargs=2, metavar=("X", "Y"), help="wand: the click")
    sp.add_argument("--tolerance", type=float, help="wand: 0..255 (default 24)")
    sp.add_argument("--edges", action="store_true", help="wand: stop at strong edges too")
    for flag, what in (("--fg", "object"), ("--bg", "background")):
        sp.add_argument(
            flag,
            type=float,
            nargs=4,
            action="append",
            metavar=("X1", "Y1", "X2", "Y2"),
            help=f"grabcut: a stroke over {what} (repeatable)",
        )
    sp.add_argument("--write", metavar="CLASS", help="store the polygon as a shape of CLASS")

    sp = command("prelabel", cmd_prelabel, "propose classes for unlabeled images (own model)")
    sp.add_argument("project")
    sp.add_argument("--accept", nargs="+", metavar="IMAGE", help="turn proposals into labels")
    sp.add_argument("--list", action="store_true", help="list the pending proposals")
    # Defaults are None here and filled in by _prelabel_options, which refuses what a run
    # would ignore (an option given with --accept, --epochs with the features model...).
    sp.add_argument(
        "--order", choices=["uncertainty", "image"], help="--list: uncertainty (default) or image"
    )
    sp.add_argument("--min-per-class", type=int, metavar="N", help="default 10")
    sp.add_argument(
        "--model",
        metavar="MODEL",
        help="features (the health classifier, seconds on the CPU; default), cnn (the GAN's"
        " small classifier; a GPU when there is one) or a plugin's pre-labeller",
    )
    sp.add_argument("--arch", choices=["resnet18", "tiny"], help="cnn only (default resnet18)")
    sp.add_argument("--device", help="cnn: auto (CUDA when present; default), cuda or cpu")
    sp.add_argument("--epochs", type=float, help="cnn: passes per training (default 30)")
    sp.add_argument("--resolution", type=int, help="cnn: image side (8..256, default 32)")
    sp.add_argument("--seed", type=_seed, help="0 to 2**63-1 (default 0)")


# -- parser -----------------------------------------------------------------------------
MAX_SEED = 2**63 - 1  # what the project stores in an INTEGER column


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63-1, not {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI contract's one-line error (no usage block before it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "-1e3" is a number, not an option (argparse knows only "-5" and "-.5")
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        self.exit(2, f"labeler: error: {message}{hint}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="labeler",
        description="Build image datasets offline: label, check, balance, augment, export.",
    )
    parser.add_argument("--version", action="version", version=f"labeler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str, json_flag=True):
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        if json_flag:
            sp.add_argument("--json", action="store_true", help="print one JSON document")
        return sp

    sp = command("init", cmd_init, "create a new, empty project file")
    sp.add_argument("project", help="the project file to create (NAME.labeler)")

    sp = command("import", cmd_import, "import images (folders are searched recursively)")
    sp.add_argument("project")
    sp.add_argument("sources", nargs="+", metavar="SOURCE")
    sp.add_argument(
        "--format",
        default="auto",
        help="what SOURCE holds: auto (default), folder, coco, yolo, darknet, voc, labelme, cvat, csv,"
        " imagefolder, or a plugin's format",
    )
    sp.add_argument(
        "--labels-from-folders",
        action="store_true",
        help="SOURCE/<class>/image.jpg: tag each image with its first folder's name",
    )
    sp.add_argument("--copy", action="store_true", help="copy files into the project's folder")

    sp = command("classes", cmd_classes, "list, add, rename, merge or remove classes")
    sp.add_argument("project")
    sp.add_argument("action", choices=["list", "add", "rename", "merge", "remove"])
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--force", action="store_true", help="remove: also delete the class's shapes")

    sp = command("label", cmd_label, "tag an image with a class (IMAGE = id or path)")
    sp.add_argument("project")
    sp.add_argument("image", metavar="IMAGE")
    sp.add_argument("cls", metavar="CLASS")

    sp = command("stats", cmd_stats, "counts per class and split, unlabeled, imbalance ratio")
    sp.add_argument("project")

    sp = command("recipe", cmd_recipe, "augmentation recipes: list, add, show, remove, preview")
    sp.add_argument("project")
    sp.add_argument("action", choices=["list", "add", "show", "remove", "preview"])
    sp.add_argument("arg", nargs="?", default=None, metavar="FILE.json|NAME")
    sp.add_argument("--name", help="add: store under this name (default: the recipe's own)")
    sp.add_argument("--replace", action="store_true", help="add: replace a recipe of that name")
    sp.add_argument("--image", help="preview: the image (id, path or file name)")
    sp.add_argument("--out", help="preview: the grid to write (.png or .jpg)")
    sp.add_argument("--n", type=int, default=8, help="preview: number of copies (default 8)")
    sp.add_argument(
        "--seed", type=_seed, default=0, help="preview: the seed, as export --seed (default 0)"
    )

    sp = command("split", cmd_split, "assign train/val/test: stratified, leakage-safe, stable")
    sp.add_argument("project")
    sp.add_argument(
        "--ratios", type=float, nargs=3, default=[0.8, 0.1, 0.1], metavar=("TRAIN", "VAL", "TEST")
    )
    sp.add_argument("--seed", type=_seed, default=0, help="0 to 2**63-1 (default 0)")
    sp.add_argument(
        "--reshuffle",
        action="store_true",
        help="reassign every image, not only those without a split",
    )
    sp.add_argument(
        "--group-by-folder",
        action="store_true",
        help="keep images from one source folder in one split",
    )

    sp = command("export", cmd_export, "export a checked, reproducible dataset version")
    sp.add_argument("project")
    sp.add_argument(
        "--format",
        required=True,
        help="imagefolder, coco, yolo, yolo-detect, yolo-segment, voc, csv",
    )
    sp.add_argument("--out", required=True, metavar="DIR")
    sp.add_argument("--recipe", metavar="NAME", help="augment the train split with this recipe")
    sp.add_argument(
        "--multiplier",
        type=int,
        default=0,
        metavar="N",
        help="augmented copies per train image (with --recipe; default 1)",
    )
    sp.add_argument("--seed", type=_seed, default=0, help="0 to 2**63-1 (default 0)")
    sp.add_argument(
        "--strip-metadata", action="store_true", help="re-encode images without EXIF/GPS metadata"
    )
    sp.add_argument("--overwrite", action="store_true", help="replace a non-empty DIR")

    sp = command("health", cmd_health, "find what is wrong with the data, and what to do")
    sp.add_argument("project")
    sp.add_argument("--html", metavar="OUT.html", help="also write a self-contained HTML report")
    sp.add_argument(
        "--quick",
        action="store_true",
        help="skip decoding images (no unreadable-file or suspicious-label checks)",
    )

    sp = command(
        "gan", cmd_gan, "GAN suggestions for thin classes: train, suggest, review, evaluate"
    )
    sp.add_argument("action", choices=["train", "suggest", "review", "evaluate"])
    sp.add_argument("project")
    sp.add_argument("--resolution", type=int, choices=[32, 64, 128], default=32)
    sp.add_argument("--steps", type=int, help="train: steps to run now")
    sp.add_argument("--minutes", type=float, help="train: minutes to run now")
    sp.add_argument("--device", default="auto", help="auto (CUDA when present), cuda or cpu")
    sp.add_argument(
        "--width",
        default="base",
        choices=["tiny", "small", "base", "large"],
        help="train: network width (tiny for CPU trials)",
    )
    sp.add_argument(
        "--batch-size",
        type=int,
        help="train: images per step (default from the device: 32 on the CPU, 512 at 32 px"
        " on a large GPU)",
    )
    sp.add_argument("--target", default="median", help="suggest: max, median or a count")
    sp.add_argument("--classifier-epochs", type=float, default=30)
    sp.add_argument(
        "--p-min",
        type=float,
        default=0.5,
        help="suggest: the classifier probability a sample needs for its class (0..1)",
    )
    sp.add_argument(
        "--arch",
        default="resnet18",
        choices=["resnet18", "small", "tiny"],
        help="suggest/evaluate: the classifier (small: a ResNet-8 for CPUs; tiny for trials)",
    )
    sp.add_argument("--epochs", type=float, help="evaluate: training budget per classifier")
    sp.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="evaluate: train every row with this many seeds (mean ± std; a verdict needs 2+)",
    )
    sp.add_argument(
        "--gen-weight",
        type=float,
        metavar="W",
        help="evaluate: a generated image's weight in the loss, 0..1 (default 0.5)",
    )
    sp.add_argument("--accept", type=int, nargs="+", metavar="ID", help="review: accept these")
    sp.add_argument("--reject", type=int, nargs="+", metavar="ID", help="review: reject these")
    sp.add_argument(
        "--accept-top",
        type=int,
        metavar="N",
        help="review: accept the N best-ranked pending suggestions per class",
    )

    _add_assist_commands(command)

    sp = command("plugins", cmd_plugins, "list plugins: what they add, enabled, load errors")
    sp.add_argument("action", choices=["list"])

    sp = command("gui", cmd_gui, "open the annotation window", json_flag=False)
    sp.add_argument("project", nargs="?", default=None)
    return parser


# Commands that use the registries plugins extend (ops, formats, health checks).
_PLUGIN_COMMANDS = frozenset(
    {"import", "export", "recipe", "health", "plugins", "gui", "assist", "prelabel"}
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in _PLUGIN_COMMANDS:
            from labeler.plugins import folder_problem, load_plugins

            load_plugins()  # a broken plugin is reported by `labeler plugins list`, never raised
            if folder_problem() and args.command != "plugins":  # `plugins list` says it itself
                print(f"labeler: warning: {folder_problem()}", file=sys.stderr)
        return args.func(args)
    except LabelerError as e:
        print(f"labeler: error: {e}", file=sys.stderr)
        return 1
    except sqlite3.OperationalError as e:
        print(f"labeler: error: project database: {e}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as e:  # damaged file: say so, and where a copy is
        from pathlib import Path

        from labeler.store.project import damaged_message

        project = getattr(args, "project", None)
        where = Path(project) if project else Path("project")
        print(f"labeler: error: {damaged_message(where, e)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `labeler ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        print(f"labeler: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labeler: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug (ours or a plugin's): one line, the trace on request
        if os.environ.get("LABELER_DEBUG") == "1":
            raise
        print(
            f"labeler: error: unexpected {type(e).__name__}: {e}"
            " (set LABELER_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

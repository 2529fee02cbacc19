"""hemalabel tune-detector --data DIR [--model M] [--extra-scales S,...] [--partner M [--partner-scales S,...]]
                        [--out DIR] [--version V]

Re-chooses a trained detector's operating thresholds on the validation
fields of TXL-PBC and BCCD (test and training fields kept out), records the
training fields' red-cell sizes in the card (the ruler of an image's
magnification) and their colours (by which a field unlike them is told,
core.detection.familiarity_learning), after
optionally changing the extra working scales it looks at each field with,
or the second trained network (--partner) that looks at it too.  The
weights are not touched.  This is how the bundled detector's card got its
second look (models/README.md, "Two looks per field")."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.arguments import checked, float_list
from app.cli.output import fail, print_json, print_progress_lines, reports_user_errors

NAME = "tune-detector"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="re-choose a trained detector's thresholds on the validation fields")
    parser.add_argument("--data", required=True, type=Path, help="folder holding txl-pbc/ and bccd/")
    parser.add_argument("--model", help="detector card, weights, their folder or a model name such as cell-detector "
                        "(default: user-trained, else bundled)")
    parser.add_argument(
        "--extra-scales",
        type=_scales,
        metavar="S,...",
        help="working scales to look at each field with besides the card's own, fused with it; "
        "'none' for one look (default: keep the card's)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder to write the card (and a copy of the weights) into (default: over the old card)",
    )
    parser.add_argument(
        "--partner",
        metavar="M",
        help="another trained detector (card, weights or folder) whose network also looks at each field, "
        "fused with the card's own looks; its weights are copied beside the card; 'none' removes it "
        "(default: keep the card's)",
    )
    parser.add_argument(
        "--partner-scales",
        type=_scales,
        metavar="S,...",
        help="working scales the partner network looks at (default: its own working scale)",
    )
    parser.add_argument("--version", help="version written into the card (default: keep it)")
    parser.add_argument("--json", action="store_true", help="print the new card's thresholds and metrics as JSON")
    parser.set_defaults(handler=run)


def _none_or_floats(text: str) -> tuple[float, ...]:
    return () if text.strip().lower() == "none" else float_list(text)


_scales = checked(
    _none_or_floats, lambda v: all(0.05 <= s <= 2.0 for s in v), "scales between 0.05 and 2 such as 0.6, or 'none'"
)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.detection.data import bundled_training_data
    from core.detection.familiarity_learning import learn_familiarity
    from core.detection.tuning import retune_detector
    from core.jobs import run_job
    from core.models.detector_card import DetectorCard
    from core.models.files import ModelCardError
    from core.models.resolver import resolve_detector_card

    try:
        trained_on = DetectorCard.load(resolve_detector_card(args.model)).training.get("data", {})
    except ModelCardError as error:
        return fail(str(error))
    # The same fields the detector was trained on, so that val holds none of
    # them (a card trained with PBC's images says how many it took).
    data = bundled_training_data(args.data, pbc_per_class=int(trained_on.get("pbc_fields_per_class", 0)))
    val_summary = {key: value for key, value in data.summary.items() if "val_" in key and key != "val_images"}
    job = retune_detector(
        args.model,
        data.val,
        args.extra_scales,
        args.out,
        args.version,
        val_summary=val_summary,
        partner=args.partner,
        partner_scales=args.partner_scales,
        ruler_fields=[gt.path for gt in data.train],
    )
    try:
        new_card = run_job(job, print_progress_lines)
        # What the fields it learnt look like, by its new thresholds' proposals.
        run_job(learn_familiarity(new_card, [gt.path for gt in data.train], [gt.path for gt in data.val]),
                print_progress_lines)
    except ModelCardError as error:
        return fail(str(error))
    card = DetectorCard.load(new_card)
    looks = {"extra_scales": card.extra_scales, "partner": card.partner_weights or None,
             "partner_scales": card.partner_scales}
    if args.json:
        print_json({"card": str(new_card), **looks, "thresholds": card.thresholds, "metrics": card.metrics})
    else:
        print(f"wrote {new_card} ({', '.join(f'{key} {value}' for key, value in looks.items())}, "
              f"thresholds {card.thresholds})")
    return 0

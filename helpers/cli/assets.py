"""``assets`` (fetch and verify the sample images) and ``weights`` (fetch/convert VGG-19)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assets", help="fetch the sample images into data/ and verify their sha256")
    p.add_argument(
        "--mirror",
        metavar="DIR_OR_URL",
        help=(
            "a copy of the originals laid out by URL path: a folder (e.g. ../shared/originals) "
            "or an http:// base URL (default: $ASSETS_MIRROR, else the URLs themselves)"
        ),
    )
    p.add_argument("--verify", action="store_true", help="only check what is there; fetch nothing")
    p.set_defaults(func=run_assets)

    w = sub.add_parser(
        "weights", help="fetch and verify the VGG-19 Caffe weights (cached after the first time)"
    )
    w.add_argument("--weights", metavar="FILE", help="check this .h5/.pth instead of the cache")
    w.set_defaults(func=run_weights)


def run_assets(args: argparse.Namespace) -> int:
    from ..assets import HOW_TO_FETCH, fetch_assets, load_manifest, verify_assets
    from ..errors import UserError

    if args.verify:
        bad = verify_assets()
        if bad:
            raise UserError(
                f"{len(bad)} sample image(s) missing or corrupt, first {bad[0]}; {HOW_TO_FETCH}"
            )
        print(f"all {len(load_manifest())} sample images present and verified")
        return 0
    fetched = fetch_assets(args.mirror)
    print(f"{len(fetched)} fetched, {len(load_manifest())} sample images verified")
    return 0


def run_weights(args: argparse.Namespace) -> int:
    from ..nst.vgg import load_caffe_state_dict

    state = load_caffe_state_dict(args.weights)
    n = sum(v.numel() for v in state.values())
    print(f"VGG-19 Caffe weights verified: {len(state)} tensors, {n:,} parameters")
    return 0

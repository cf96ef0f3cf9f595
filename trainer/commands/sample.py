"""`python -m trainer sample RUN [--prompt TEXT]`: text from a trained run's model, as nanoGPT's sample.py gives it.

RUN is a run folder, a published run's page or EXPERIMENT@current|best|latest (commands/loading.py); its
record and weights are verified before they are loaded. Every setting left out is the run's own `sample`
setting, so `trainer sample RUN` with no options draws the run's own samples.txt again.
"""
from __future__ import annotations

import argparse
import sys

from ..engines.contract import SampleRequest
from . import EXIT_OK, loading


def command(args: argparse.Namespace) -> int:
    engine, model, found = loading.load(args, "generates")
    request = SampleRequest(prompt=args.prompt, count=args.count, max_length=args.max_tokens, temperature=args.temperature,
                            top_k=args.top_k, seed=args.seed)
    texts = engine.sample(model, request)
    step = f" at step {found.step}" if found.step is not None else ""
    print(f"{len(texts)} sample(s) from {found.run_id} ({found.weights_name}{step}, sha256 verified)", file=sys.stderr)
    for i, text in enumerate(texts, start=1):
        print(f"--- sample {i} ---\n{text}")
    return EXIT_OK

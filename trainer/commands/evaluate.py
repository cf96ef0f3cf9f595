"""`python -m trainer eval RUN --file hellaswag_val.jsonl`: a trained run's model on a multiple-choice set.

The file is in HellaSwag's format (one JSON object per line: `ctx`, four `endings`, `label`), scored as the run's
own evaluation is (evals/multiple_choice.py): `acc` picks the ending with the highest total log-likelihood,
`acc_norm` the highest per token. RUN is found and verified as for `sample` (commands/loading.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, UsageError
from ..tracking.files import dumps_json, write_text
from . import EXIT_OK, loading


def command(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(str(path), "--file", "no such file; expected a HellaSwag-format .jsonl (ctx, endings, label per line)")
    engine, model, found = loading.load(args, "scores_choices")
    try:
        result = engine.score_choices(model, path, args.examples)
    except ConfigError as e:  # the file's mistakes, which the evaluation names as if it were a config's eval.file
        raise UsageError(e.source, "--file", e.message) from None
    result = {"run": found.run_id, "weights": found.weights_name, "file": str(path), **result}
    for key, value in result.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    if args.out:
        write_text(Path(args.out), dumps_json(result))
        print(f"written to {args.out}", file=sys.stderr)
    return EXIT_OK

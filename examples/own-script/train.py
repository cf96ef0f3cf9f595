"""A plain PyTorch training loop, made auditable by one `with trainer.track(...)` block.

Nothing here is a Trainbook engine: the script loads its own data, builds its own model and writes its own loop.
The block around the loop is all it takes to get a sealed run folder (its settings, its command line, the commit
and the sha256 of the script and of the data, the machine, the seed), a ledger line and a page on the site:

    python examples/own-script/train.py --steps 300      # prints the run folder last
    python -m trainer reproduce runs/<that run id>       # runs this command again and compares: identical
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed: the figure goes into the run folder
import matplotlib.pyplot as plt
import torch
from torch import nn

import trainer

DATA = Path(__file__).with_name("damped-sine.csv")


def load(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    with path.open() as f:
        rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
    xy = torch.tensor(rows)
    return xy[:, :1], xy[:, 1:]


def split(x: torch.Tensor, y: torch.Tensor, every: int = 5):
    """Every `every`-th point is held out for validation; the rest train."""
    held = torch.arange(len(x)) % every == 0
    return (x[~held], y[~held]), (x[held], y[held])


def prediction_figure(model: nn.Module, train, val):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    grid = torch.linspace(-3, 3, 300).unsqueeze(1)
    with torch.no_grad():
        ax.plot(grid, model(grid), color="#d62728", linewidth=2, label="model")
    ax.scatter(*train, s=6, color="#1f77b4", alpha=0.5, label="training points")
    ax.scatter(*val, s=10, color="#2ca02c", label="validation points")
    ax.set(title="Fitted curve", xlabel="x", ylabel="y")
    ax.legend(loc="upper right")
    return fig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    (x_train, y_train), (x_val, y_val) = split(*load(DATA))

    with trainer.track("own-script", config=args, data=[DATA], seed=args.seed, tags=["regression", "plain-pytorch"],
                       description="A two-layer tanh network fitted to a noisy damped sine by a plain PyTorch loop.",
                       key_metric="val_loss", progress=True) as run:
        model = nn.Sequential(nn.Linear(1, args.hidden), nn.Tanh(), nn.Linear(args.hidden, args.hidden), nn.Tanh(),
                              nn.Linear(args.hidden, 1))
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        for step in range(1, args.steps + 1):
            loss = nn.functional.mse_loss(model(x_train), y_train)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.log(step, train_loss=loss)
            if step % args.eval_every == 0 or step == args.steps:
                with torch.no_grad():
                    run.log(step, val_loss=nn.functional.mse_loss(model(x_val), y_val))
        run.add_figure(prediction_figure(model, (x_train, y_train), (x_val, y_val)),
                       "The network's curve over the training and validation points after the last step.")
        run.checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict()})
    print(run.path)


if __name__ == "__main__":
    main()

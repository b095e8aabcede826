#!/usr/bin/python3
"""Training curves: loss and test accuracy per epoch, one line per run.

  plot_curves.py OUT.png RUN.json [OTHER.json ...]

Each RUN.json is what `mnist train --plot` writes beside its PNG:
{"backend": "cpu", "label": "...", "epochs": [{"epoch": 1, "loss": .., "test_accuracy": ..}, ...]}
(extra runs, e.g. the other backend's, are drawn beside the first). Needs
matplotlib (Debian: python3-matplotlib). Exits non-zero with a message naming
the file at fault.
"""
import json
import sys


def load(path):
    try:
        with open(path) as f:
            run = json.load(f)
        epochs = run["epochs"]
        if not epochs:
            raise ValueError("no epochs")
        return run.get("label") or run.get("backend", path), [e["epoch"] for e in epochs], \
            [e["loss"] for e in epochs], [100.0 * e["test_accuracy"] for e in epochs]
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"plot_curves: {path}: not a training-curve file ({e})")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError as e:
        sys.exit(f"plot_curves: matplotlib is missing ({e}); install python3-matplotlib")
    out, runs = argv[1], [load(p) for p in argv[2:]]

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for label, epoch, loss, acc in runs:
        ax_loss.plot(epoch, loss, marker="o", label=label)
        ax_acc.plot(epoch, acc, marker="o", label=label)
    ax_loss.set(title="Training loss", xlabel="epoch", ylabel="categorical cross-entropy (mean over the epoch)")
    ax_acc.set(title="Test accuracy", xlabel="epoch", ylabel="accuracy on the test set (%)")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("graphgrad: the Keras MNIST CNN")
    fig.tight_layout()
    try:
        fig.savefig(out)
    except OSError as e:
        sys.exit(f"plot_curves: {out}: cannot write ({e})")


if __name__ == "__main__":
    main(sys.argv)

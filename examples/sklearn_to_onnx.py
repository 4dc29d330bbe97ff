"""A user's side of the tutorial (docs/tutorial.md, section 10): train a scikit-learn MLPClassifier on the
digits and export it to ONNX with skl2onnx, as you would your own model.

    python examples/sklearn_to_onnx.py my-mlp.onnx [--hidden 32] [--iterations 50]

Needs scikit-learn (a layerpipe dependency) and skl2onnx (pip install skl2onnx; the test extra has it).
The pixels are scaled by 1/16, as `layerpipe ... --data digits` scales them, so the imported weights
see the same inputs they were trained on.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="the .onnx file to write")
    parser.add_argument("--hidden", type=int, nargs="+", default=[32], help="hidden layer sizes")
    parser.add_argument("--iterations", type=int, default=50, help="training epochs (max_iter)")
    args = parser.parse_args()
    digits = load_digits()
    x = digits.data / 16.0
    clf = MLPClassifier(hidden_layer_sizes=tuple(args.hidden), max_iter=args.iterations, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few epochs on purpose: it is a demonstration
        clf.fit(x, digits.target)
    # zipmap=False: probabilities as a plain tensor (layerpipe ignores the label outputs either way)
    model = to_onnx(clf, x[:1].astype(np.float32), options={"zipmap": False})
    with open(args.output, "wb") as f:
        f.write(model.SerializeToString())
    print(f"{args.output}: MLPClassifier 64-{'-'.join(map(str, args.hidden))}-10, "
          f"training accuracy {100 * clf.score(x, digits.target):.1f} %")


if __name__ == "__main__":
    main()

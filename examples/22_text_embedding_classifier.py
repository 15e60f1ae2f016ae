"""Sequence 5b: an embedding text classifier (EmbeddingBag mean → Linear, fastText's model).

The same two real text sets and protocol as 21_text_bag_of_words.py (stratified 5-fold
cross-validation, majority baseline, confusion matrix, per-class report). Each text is a bag of
token ids — its words and, by default, each word's character 3-5-grams (``--no-subwords`` for
words only) — looked up in a learned embedding table and averaged by ``nn.EmbeddingBag`` without
padding; one linear layer maps the mean to the classes. Trained with Adam.

    python examples/22_text_embedding_classifier.py                 # both sets, ~1 min
    python examples/22_text_embedding_classifier.py --data fortunes --dim 128 --seeds 3
"""
import importlib

import _common  # noqa: F401  (sets up paths)

bow = importlib.import_module("21_text_bag_of_words")  # the shared runner and flags


def main(argv=None):
    p = bow.parser(__doc__, dict(epochs=20, lr=1e-2, subwords=True, prefix="22"))
    p.add_argument("--no-subwords", dest="subwords", action="store_false", help="words only")
    p.add_argument("--dim", type=int, default=64, help="embedding dimension (default 64)")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.folds < 2 or args.seeds < 1 or args.dim < 1:
        p.error("--epochs, --seeds and --dim must be at least 1, --folds at least 2")
    for name in (("pang_lee", "fortunes") if args.data == "both" else (args.data,)):
        bow.run(name, args, "embedding", embedding_dim=args.dim, weight_decay=0.0)


if __name__ == "__main__":
    main()

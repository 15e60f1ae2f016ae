"""Sequence 8: a character-level transformer language model on Debian's fortunes, beside a 5-gram.

The quotations of five categories of the ``fortunes`` package (food, law, linux, love, startrek) are
split 90/10 by quotation and joined with the files' own separator (``\\n%\\n``) into a training and a
validation stream of characters. Two models predict each validation character from the ones before it:

* the baseline: an interpolated Kneser-Ney character 5-gram (``fastnn.models.CharNGramModel``: four
  characters of context, per-order discounts, characters unseen in training read as one unknown symbol);
* a decoder-only transformer (``fastnn.models.CausalTransformerLM``: causal self-attention on the fused
  attention kernel, learned positions, weight tying) trained on random windows of the training stream.

Both use the same vocabulary (the training characters plus the unknown symbol) and score the same
characters: every validation character but the first, the transformer with up to ``--block`` characters of
context (windows overlapping by half). Printed: validation perplexities (lower is better) and samples drawn
with the key/value cache at a few temperatures and top-k. Saved: the training curve.
Quick run: ``python examples/43_char_lm_fortunes.py --steps 30 --d-model 32 --layers 1``.
"""
import argparse
import math
import time

import _common

import numpy as np

import fastnn
from fastnn import nn, optim
from fastnn.datasets import fortunes
from fastnn.models import CausalTransformerLM, CharNGramModel

SEPARATOR = "\n%\n"


def split_text(seed, val_fraction=0.1):
    texts, _, _ = fortunes()
    perm = np.random.default_rng(seed).permutation(len(texts))
    n_val = max(1, int(len(texts) * val_fraction))
    join = lambda idx: SEPARATOR.join(texts[i] for i in idx)  # noqa: E731
    return join(perm[n_val:]), join(perm[:n_val])


def transformer_nll(model, ids, block):
    """Summed negative log-likelihood (nats) of ids[1:], each token given up to ``block`` tokens before it:
    windows of ``block`` tokens moved by ``block // 2``, each scoring the tokens the previous one did not."""
    model.eval()
    block = min(block, len(ids))
    total, scored, stride = 0.0, 1, max(block // 2, 1)
    starts = list(range(0, max(len(ids) - block, 0) + 1, stride))
    if starts[-1] + block < len(ids):
        starts.append(len(ids) - block)
    windows = []
    for s in starts:
        first = scored - s  # the first position of this window whose target is not scored yet
        windows.append((s, max(first, 1)))
        scored = s + block
    with fastnn.no_grad():
        for i in range(0, len(windows), 64):
            chunk = windows[i:i + 64]
            x = np.stack([ids[s:s + block] for s, _ in chunk])
            logp = model(fastnn.tensor(x[:, :-1])).log_softmax(-1).numpy()
            for row, (s, first) in enumerate(chunk):
                targets = x[row, first:]
                total -= float(logp[row, np.arange(first - 1, block - 1), targets].sum())
    return total


def ngram_nll(ngram, text):
    """Summed negative log-likelihood (nats) of text[1:] under the n-gram."""
    n = ngram.order
    return -sum(math.log(ngram.prob(text[i], text[max(0, i - n + 1):i])) for i in range(1, len(text)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="training steps (default 3000)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--block", type=int, default=64, help="context length in characters (default 64)")
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.block < 2 or args.batch_size < 1:
        parser.error("--steps and --batch-size must be at least 1, --block at least 2")
    fastnn.manual_seed(args.seed)
    train_text, val_text = split_text(args.seed)

    start = time.perf_counter()
    ngram = CharNGramModel(order=5).fit(train_text)
    ngram_ppl = math.exp(ngram_nll(ngram, val_text) / (len(val_text) - 1))
    print(f"fortunes: {len(train_text)} training / {len(val_text)} validation characters, vocabulary "
          f"{len(ngram.vocab)} (with the unknown symbol)")
    print(f"5-gram Kneser-Ney baseline: validation perplexity {ngram_ppl:.3f} (fitted and scored in "
          f"{time.perf_counter() - start:.1f} s; discounts {', '.join(f'{d:.2f}' for d in ngram.discounts)})")

    stoi = ngram.stoi
    encode = lambda s: np.array([stoi.get(c, 0) for c in s], dtype=np.int64)  # noqa: E731
    train_ids, val_ids = encode(train_text), encode(val_text)
    model = CausalTransformerLM(len(ngram.vocab), d_model=args.d_model, nhead=args.heads, num_layers=args.layers,
                                max_len=args.block, dropout=args.dropout)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                      lr=args.lr, betas=(0.9, 0.98))
    warmup = min(100, args.steps // 10 + 1)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warmup, 0.5 * (
        1 + math.cos(math.pi * min(max(s - warmup, 0) / max(args.steps - warmup, 1), 1.0)))))
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    params = sum(p.numel() for p in model.parameters())
    print(f"transformer: {args.layers} layers, d_model {args.d_model}, {args.heads} heads, context {args.block}, "
          f"{params} parameters; {args.steps} steps of {args.batch_size} windows")

    curve = {"train loss": [], "validation loss": [], "5-gram validation": []}
    steps_seen, running, start = [], [], time.perf_counter()
    for step in range(1, args.steps + 1):
        model.train()
        at = rng.integers(0, len(train_ids) - args.block - 1, size=args.batch_size)
        batch = np.stack([train_ids[a:a + args.block + 1] for a in at])
        opt.zero_grad()
        logits = model(fastnn.tensor(batch[:, :-1]))
        loss = loss_fn(logits.flatten(0, 1), fastnn.tensor(batch[:, 1:].reshape(-1)))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running.append(loss.item())
        if step % args.eval_every == 0 or step == args.steps:
            val_loss = transformer_nll(model, val_ids, args.block) / (len(val_ids) - 1)
            steps_seen.append(step)
            curve["train loss"].append(float(np.mean(running)))
            curve["validation loss"].append(val_loss)
            curve["5-gram validation"].append(math.log(ngram_ppl))
            running = []
            print(f"step {step}: train loss {curve['train loss'][-1]:.4f}, validation loss {val_loss:.4f} "
                  f"(perplexity {math.exp(val_loss):.3f}), {time.perf_counter() - start:.0f} s", flush=True)
    seconds = time.perf_counter() - start
    ppl = math.exp(curve["validation loss"][-1])
    verdict = "beats" if ppl < ngram_ppl else "does NOT beat"
    print(f"\nvalidation perplexity: transformer {ppl:.3f}, 5-gram Kneser-Ney {ngram_ppl:.3f}: the transformer "
          f"{verdict} the 5-gram ({args.steps} steps, {seconds:.0f} s on {fastnn.get_num_threads()} CPU threads)")

    model.eval()
    prompt = fastnn.tensor(encode("Q: ")[None, :])
    for temperature, top_k in ((0.5, None), (0.8, 10), (1.0, None)):
        g = fastnn.Generator().manual_seed(args.seed)
        out = model.generate(prompt, 200, temperature=temperature, top_k=top_k, generator=g)[0].numpy()
        text = "".join(ngram.vocab[i] for i in out)
        print(f"\n--- sample (temperature {temperature}, top_k {top_k}):\n{text}")
    print(f"\n--- 5-gram sample (temperature 1.0):\nQ: {ngram.sample(200, context='Q: ', seed=args.seed)}")
    _common.save_plot("plot_curves", "43_char_lm_fortunes.png", curve, x=steps_seen, xlabel="step",
                      ylabel="loss (nats per character)", title="character LM on fortunes")
    return ppl, ngram_ppl


if __name__ == "__main__":
    main()

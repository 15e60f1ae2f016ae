"""Sequence 6, encoder-decoder: a GRU translates dates written in five human formats into ISO 8601, character by character.

"3 march 1994", "march 3, 1994", "03/03/1994", "3 mar 94" and "thursday 3 march 1994" all become
"1994-03-03". The encoder (character embedding + bidirectional GRU over the packed source, whose
lengths vary) sums the source up in the final states of its two directions; the decoder GRU starts
from that summary, reads it again at every step beside the previous character (Cho et al., 2014),
and writes the target one character at a time. Training uses teacher forcing (the decoder reads the true previous
character); at test time decoding is greedy (it reads its own previous output) until ``</s>``.
Reported: the exact-match accuracy of whole dates and the per-character accuracy on held-out dates;
the training-loss curve is saved.
"""
import _common  # noqa: F401  (sets up paths)

import datetime

import numpy as np

import fastnn
from fastnn import nn, optim
from fastnn.data.text import PAD, UNK, Vocab
from fastnn.nn import functional as F
from fastnn.nn.utils.rnn import pack_padded_sequence, pad_sequence

CONFIG = dict(train=20000, test=1000, embed=32, hidden_size=128, epochs=3, lr=3e-3, batch_size=128, seed=0)
START, END = "<s>", "</s>"
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FORMATS = (
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year % 100:02d}",  # two-digit years stand for 1950-2049
    lambda d: f"{DAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}",
)


def make_pairs(n, rng):
    first = datetime.date(1950, 1, 1).toordinal()
    days = rng.integers(0, datetime.date(2049, 12, 31).toordinal() - first + 1, size=n)
    styles = rng.integers(0, len(FORMATS), size=n)
    pairs = []
    for d, s in zip(days.tolist(), styles.tolist()):
        date = datetime.date.fromordinal(first + d)
        pairs.append((FORMATS[s](date), date.isoformat()))
    return pairs


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, embed, hidden_size):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden_size, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_size, hidden_size)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed)
        self.decoder = nn.GRU(embed + 2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, tgt_vocab)

    def encode(self, src, lengths):
        """The summary of each source: the final states of both directions, (B, 2 * hidden)."""
        packed = pack_padded_sequence(self.src_embed(src), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.encoder(packed)  # (2, B, hidden): forward after the last character, backward after the first
        return fastnn.cat([h[0], h[1]], dim=1)

    def decode(self, tokens, context, h):
        """Decoder steps over ``tokens`` (B, T); the source summary joins every step's input."""
        emb = self.tgt_embed(tokens)
        ctx = context.unsqueeze(1).expand(-1, tokens.shape[1], -1)
        out, h = self.decoder(fastnn.cat([emb, ctx], dim=2), h)
        return self.out(out), h

    def forward(self, src, lengths, tgt_in):
        """Teacher forcing: the decoder reads the true target shifted right (``<s>`` first)."""
        context = self.encode(src, lengths)
        logits, _ = self.decode(tgt_in, context, self.bridge(context).tanh().unsqueeze(0))
        return logits

    @fastnn.no_grad()
    def greedy(self, src, lengths, start, end, max_len):
        context = self.encode(src, lengths)
        h = self.bridge(context).tanh().unsqueeze(0)
        token = fastnn.full((src.shape[0], 1), start, dtype=fastnn.int64)
        steps = []
        for _ in range(max_len):
            logits, h = self.decode(token, context, h)
            token = logits.argmax(dim=-1)  # (B, 1): the decoder's own choice is its next input
            steps.append(token)
            if bool((token == end).all()):
                break
        return fastnn.cat(steps, dim=1).numpy()


def encode_batch(pairs, src_vocab, tgt_vocab):
    src = [fastnn.tensor(src_vocab.encode(list(s))) for s, _ in pairs]
    lengths = fastnn.tensor([len(s) for s, _ in pairs])
    tgt = fastnn.tensor([tgt_vocab.encode([START] + list(t) + [END]) for _, t in pairs])
    return pad_sequence(src, batch_first=True, padding_value=src_vocab[PAD]), lengths, tgt


def decode(ids, tgt_vocab):
    chars = []
    for i in ids:
        tok = tgt_vocab.lookup_token(int(i))
        if tok == END:
            break
        chars.append(tok if len(tok) == 1 else "?")
    return "".join(chars)


def main(epochs=CONFIG["epochs"], n_train=CONFIG["train"], n_test=CONFIG["test"], verbose=True):
    rng = np.random.default_rng(CONFIG["seed"])
    fastnn.manual_seed(CONFIG["seed"])
    train, test = make_pairs(n_train, rng), make_pairs(n_test, rng)
    src_vocab = Vocab.build([list(s) for s, _ in train], specials=(PAD, UNK))
    tgt_vocab = Vocab(list("0123456789-"), specials=(PAD, START, END), unk_token=None)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), CONFIG["embed"], CONFIG["hidden_size"])
    opt = optim.Adam(model.parameters(), lr=CONFIG["lr"])
    bs = CONFIG["batch_size"]
    losses = []
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(n_train)
        total = 0.0
        for lo in range(0, n_train, bs):
            src, lengths, tgt = encode_batch([train[i] for i in order[lo:lo + bs]], src_vocab, tgt_vocab)
            logits = model(src, lengths, tgt[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, len(tgt_vocab)), tgt[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(lengths)
        losses.append(total / n_train)
        if verbose:
            print(f"epoch {epoch + 1}: training loss {losses[-1]:.4f}")

    model.eval()
    src, lengths, tgt = encode_batch(test, src_vocab, tgt_vocab)
    ids = model.greedy(src, lengths, tgt_vocab[START], tgt_vocab[END], max_len=tgt.shape[1])
    guesses = [decode(row, tgt_vocab) for row in ids]
    exact = np.mean([g == t for g, (_, t) in zip(guesses, test)])
    chars = np.mean([a == b for g, (_, t) in zip(guesses, test) for a, b in zip(g.ljust(len(t)), t)])
    print(f"{n_train} training pairs, {n_test} test pairs, greedy decoding")
    print(f"exact-match accuracy: {exact:.4f}  per-character accuracy: {chars:.4f}")
    for (s, t), g in list(zip(test, guesses))[:6]:
        print(f"  {s!r:>28} -> {g}  {'ok' if g == t else 'expected ' + t}")
    _common.save_plot("plot_curves", "33_seq2seq_dates_loss.png", {"training loss (teacher forcing)": losses},
                      ylabel="cross-entropy per character", title="Dates to ISO 8601, GRU encoder-decoder")
    return exact


if __name__ == "__main__":
    main(**_common.count_options(__doc__, epochs=("epochs", CONFIG["epochs"], "epochs"),
                                 train=("n_train", CONFIG["train"], "training pairs"),
                                 test=("n_test", CONFIG["test"], "test pairs")))

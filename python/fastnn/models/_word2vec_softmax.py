"""The full-softmax form of word2vec (``Word2Vec(loss="softmax")``), as the course derives it: the
probability of a word given its context is softmax(h W_out^T), h the input vector of the context word
(skip-gram) or the mean of the context's input vectors (CBOW); cross-entropy over the whole vocabulary,
trained with SGD by fastnn's autograd. Every prediction costs O(V D): for small vocabularies.

The pairs follow word2vec's sampling (frequent-word subsampling with the model's keep probabilities,
reduced random windows), drawn from numpy's generator seeded with the model's seed; they are taken in
corpus order in mini-batches of ``batch_size`` predictions whose mean loss makes one SGD step (a summed
loss would move a row once per repeat of its word in the batch, which diverges on the small vocabularies
this form is for), the learning rate decaying linearly from alpha over the epochs as with negative
sampling; a step size about 0.5 suits it, where negative sampling's per-prediction steps take 0.025."""
from __future__ import annotations

import numpy as np


def _contexts(tokens, sid, win, window):
    """For each kept word i: the ids of its context (kept words within its reduced window, same sentence)
    as an (n, 2 window) array and the mask of the valid entries."""
    n = len(tokens)
    ids = np.zeros((n, 2 * window), np.int64)
    mask = np.zeros((n, 2 * window), bool)
    i = np.arange(n)
    col = 0
    for k in list(range(-window, 0)) + list(range(1, window + 1)):
        j = i + k
        ok = (j >= 0) & (j < n)
        jj = np.clip(j, 0, max(n - 1, 0))
        ok &= (sid[jj] == sid) & (abs(k) <= win)
        ids[:, col] = np.where(ok, tokens[jj], 0)
        mask[:, col] = ok
        col += 1
    return ids, mask


def train_softmax(model, tokens, offsets, epochs, alpha, min_alpha, callbacks):
    import fastnn
    import fastnn.nn.functional as F

    rng = np.random.default_rng(model.seed)
    dev = model.device
    w_in = fastnn.tensor(model.wv.vectors, device=dev, requires_grad=True)
    w_out = fastnn.tensor(model.syn1neg, device=dev, requires_grad=True)
    opt = fastnn.optim.SGD([w_in, w_out], lr=alpha)
    keep = model._keep_prob()
    sid_all = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    covered = np.zeros(len(tokens), bool)
    covered[offsets[0]:offsets[-1]] = True
    n = len(tokens)
    total = max(n * epochs, 1)
    window, bs = model.window, max(1, model.batch_size)
    trained = 0
    for epoch in range(epochs):
        kept = covered.copy()
        if keep is not None:
            kept &= rng.random(n) < keep[tokens]
        pos = np.flatnonzero(kept)
        t, sid = tokens[pos], sid_all[pos]
        win = window - rng.integers(0, window, len(pos))
        ids, mask = _contexts(t, sid, win, window)
        has = mask.any(1)
        trained += int(len(pos))
        if model.sg:  # (input: a context word, target: the centre word), centre by centre
            rows, cols = np.nonzero(mask)
            inputs, targets, where = ids[rows, cols], t[rows], pos[rows]
        else:
            sel = np.flatnonzero(has)
            inputs, targets, where = None, t[sel], pos[sel]
            ctx_ids, ctx_mask = ids[sel], mask[sel].astype(model.wv.vectors.dtype)
        for b in range(0, len(targets), bs):
            lr = alpha - (alpha - min_alpha) * (epoch * n + where[b]) / total
            opt.param_groups[0]["lr"] = max(lr, min_alpha)
            tgt = fastnn.tensor(targets[b:b + bs], device=dev)
            if model.sg:
                h = w_in[fastnn.tensor(inputs[b:b + bs], device=dev)]
            else:
                m = fastnn.tensor(ctx_mask[b:b + bs], device=dev)
                h = (w_in[fastnn.tensor(ctx_ids[b:b + bs], device=dev)] * m.unsqueeze(-1)).sum(1)
                if model.cbow_mean:
                    h = h / m.sum(1, keepdim=True)
            loss = F.cross_entropy(h @ w_out.t(), tgt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if model.compute_loss:
                model.running_training_loss += float(loss.item())
        for cb in callbacks:
            cb.on_epoch_end(model)
    model.wv.vectors = np.ascontiguousarray(w_in.detach().cpu().numpy())
    model.syn1neg = np.ascontiguousarray(w_out.detach().cpu().numpy())
    return trained

"""fastnn.models task heads on transformers: classifier, tagger, causal LM (KV cache, tying, sampling), ViT;
and the generated sortedness task with its bag-of-words baseline."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.data import sorted_sequences, token_counts
from fastnn.models import CausalTransformerLM, TransformerClassifier, TransformerTagger, VisionTransformer


def _tokens(n, length, vocab, seed=0, low=1):
    return fastnn.tensor(np.random.default_rng(seed).integers(low, vocab, size=(n, length)))


def _pad(x, extra):
    return fastnn.cat([x, fastnn.zeros(x.shape[0], extra, dtype=fastnn.int64)], dim=1)


# ---------------------------------------------------------------- classifier and tagger
@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_classifier_shapes_and_padding_invariance(pooling, positional):
    fastnn.manual_seed(0)
    model = TransformerClassifier(12, 3, d_model=16, nhead=2, num_layers=2, pooling=pooling, padding_idx=0,
                                  positional=positional, max_len=32).eval()
    x = _tokens(4, 7, 12)
    out = model(x)
    assert tuple(out.shape) == (4, 3)
    # padding at the end changes nothing; neither does an explicit mask instead of padding_idx
    np.testing.assert_allclose(model(_pad(x, 5)).detach().numpy(), out.detach().numpy(), rtol=1e-5, atol=1e-6)
    mask = fastnn.zeros(4, 12, dtype=fastnn.bool)
    mask[:, 7:] = True
    np.testing.assert_allclose(model(_pad(x, 5), src_key_padding_mask=mask).detach().numpy(), out.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    # rows of different lengths batched together give each row's own output
    short = model(x[:1, :3])
    both = model(fastnn.cat([_pad(x[:1, :3], 4), x[1:2]], dim=0))
    np.testing.assert_allclose(both[0].detach().numpy(), short[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both[1].detach().numpy(), out[1].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_classifier_sees_the_order():
    model = TransformerClassifier(12, 2, d_model=16, nhead=2, num_layers=1, padding_idx=0).eval()
    x = fastnn.tensor([[1, 2, 3, 4, 5]])
    assert not np.allclose(model(x).detach().numpy(), model(x.flip(1)).detach().numpy())  # positions make the order visible


def test_classifier_bad_arguments():
    with pytest.raises(ValueError, match="pooling"):
        TransformerClassifier(10, 2, d_model=16, nhead=2, pooling="max")
    with pytest.raises(ValueError, match="divisible"):
        TransformerClassifier(10, 2, d_model=10, nhead=4)
    with pytest.raises(ValueError, match="positional"):
        TransformerClassifier(10, 2, d_model=16, nhead=2, positional="rope")
    model = TransformerClassifier(10, 2, d_model=16, nhead=2, max_len=8)
    with pytest.raises(ValueError, match="max_len"):
        model(_tokens(1, 8, 10))  # 8 tokens + CLS
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        model(_tokens(1, 4, 10).reshape(4))
    with pytest.raises(ValueError, match="src_key_padding_mask"):
        model(_tokens(2, 4, 10), src_key_padding_mask=fastnn.zeros(2, 5, dtype=fastnn.bool))


def test_tagger_ignores_padding_and_learns_a_context_task():
    fastnn.manual_seed(0)
    vocab, n, length = 6, 256, 8
    model = TransformerTagger(vocab, vocab, d_model=32, nhead=4, num_layers=1, dropout=0.0, padding_idx=0)
    x = _tokens(n, length, vocab, seed=1)
    model.eval()
    out = model(x[:3])
    assert tuple(out.shape) == (3, length, vocab)
    np.testing.assert_allclose(model(_pad(x[:3], 3))[:, :length].detach().numpy(), out.detach().numpy(), rtol=1e-5, atol=1e-6)
    # the tag of each token is the token before it (the first one is ignored): needs attention to position i-1
    tags = fastnn.cat([fastnn.full((n, 1), -100, dtype=fastnn.int64), x[:, :-1]], dim=1)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(model(x).flatten(0, 1), tags.flatten())
        loss.backward()
        opt.step()
    model.eval()
    pred = model(x).argmax(-1).detach().numpy()[:, 1:]
    assert (pred == x.detach().numpy()[:, :-1]).mean() > 0.9


# ---------------------------------------------------------------- causal language model
def _lm(**kw):
    fastnn.manual_seed(0)
    args = dict(d_model=32, nhead=4, num_layers=2, max_len=32, dropout=0.0)
    args.update(kw)
    return CausalTransformerLM(17, **args).eval()


def test_lm_weight_tying_is_one_tensor():
    lm = _lm()
    assert lm.lm_head.weight is lm.wte.weight
    assert sum(p is lm.wte.weight for p in lm.parameters()) == 1  # listed once for the optimiser
    lm.train()
    x = _tokens(2, 6, 17, low=0)
    lm(x).sum().backward()
    assert lm.wte.weight.grad is not None
    untied = _lm(tie_weights=False)
    assert untied.lm_head.weight is not untied.wte.weight


def test_lm_is_causal():
    lm = _lm()
    x = _tokens(2, 10, 17, low=0)
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 17
    np.testing.assert_allclose(lm(x)[:, :6].detach().numpy(), lm(y)[:, :6].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_lm_cached_steps_equal_full_recomputation():
    lm = _lm()
    x = _tokens(3, 12, 17, low=0)
    full = lm(x).detach().numpy()
    # a prompt of 5, then one token at a time through the cache
    logits, past = lm(x[:, :5], use_cache=True)
    steps = [logits.detach().numpy()]
    for t in range(5, 12):
        logits, past = lm(x[:, t:t + 1], past_key_values=past, use_cache=True)
        steps.append(logits.detach().numpy())
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-4, atol=1e-5)
    # several new tokens at once after a cache (a mask aligned to the bottom right)
    logits, past = lm(x[:, :4], use_cache=True)
    rest, _ = lm(x[:, 4:], past_key_values=past, use_cache=True)
    np.testing.assert_allclose(rest.detach().numpy(), full[:, 4:], rtol=1e-4, atol=1e-5)
    assert [tuple(k.shape) for k, _ in past] == [(3, 4, 4, 8)] * 2


def test_generate_costs_one_token_per_step_and_matches_uncached_greedy():
    lm = _lm()
    seen = []
    handle = lm.blocks[0].register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))
    prompt = _tokens(2, 5, 17, low=0)
    out = lm.generate(prompt, 10, top_k=1)
    handle.remove()
    assert tuple(out.shape) == (2, 15)
    assert seen == [5] + [1] * 9  # the prompt once, then one token per step
    np.testing.assert_array_equal(out[:, :5].detach().numpy(), prompt.detach().numpy())
    # greedy decoding recomputed from scratch for every token gives the same tokens
    idx = prompt
    for _ in range(10):
        idx = fastnn.cat([idx, lm(idx)[:, -1].argmax(-1, keepdim=True)], dim=1)
    np.testing.assert_array_equal(out.detach().numpy(), idx.detach().numpy())


def test_generate_beyond_max_len_slides_the_window():
    lm = _lm(max_len=8)
    seen = []
    handle = lm.blocks[0].register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))
    out = lm.generate(_tokens(1, 6, 17, low=0), 12, top_k=1)
    handle.remove()
    assert tuple(out.shape) == (1, 18)
    # cache full at 8 positions: rebuilt from the last 4 tokens, then single steps again
    assert seen == [6, 1, 1, 4, 1, 1, 1, 1, 4, 1, 1, 1]
    assert max(seen) <= 8 and sum(seen) < 12 * 8 / 2


def test_sampling_temperature_top_k_and_generator():
    lm = _lm()
    prompt = _tokens(4, 3, 17, low=0)
    a = lm.generate(prompt, 8, temperature=0.8, top_k=5, generator=fastnn.Generator().manual_seed(3))
    b = lm.generate(prompt, 8, temperature=0.8, top_k=5, generator=fastnn.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    # every sampled token lies among the top-k of its step (checked by recomputation)
    logits = lm(a[:, :-1])[:, 2:]
    top = logits.topk(5, dim=-1)[1].detach().numpy()
    assert np.all((top == a[:, 3:].detach().numpy()[..., None]).any(-1))
    for bad in (dict(temperature=0.0), dict(top_k=0)):
        with pytest.raises(ValueError):
            lm.generate(prompt, 2, **bad)


def test_lm_bad_input():
    lm = _lm(max_len=8)
    with pytest.raises(ValueError, match="max_len"):
        lm(_tokens(1, 9, 17, low=0))
    with pytest.raises(ValueError, match="idx"):
        lm(_tokens(1, 4, 17, low=0).reshape(4))
    with pytest.raises(ValueError, match="past_key_values"):
        lm(_tokens(1, 1, 17, low=0), past_key_values=[None])


def test_lm_learns_a_repeating_pattern():
    fastnn.manual_seed(0)
    lm = CausalTransformerLM(5, d_model=32, nhead=2, num_layers=1, max_len=16, dropout=0.0)
    seq = fastnn.tensor(np.tile([0, 1, 2, 3, 4, 2, 1], 3)[None, :17])
    opt = fastnn.optim.Adam(lm.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(80):
        opt.zero_grad()
        loss = loss_fn(lm(seq[:, :-1]).flatten(0, 1), seq[0, 1:])
        loss.backward()
        opt.step()
    assert loss.item() < 0.3


# ---------------------------------------------------------------- vision transformer
def test_vit_shapes_patches_and_attention_maps():
    fastnn.manual_seed(0)
    vit = VisionTransformer(image_size=8, patch_size=2, num_layers=2, num_heads=4, hidden_dim=16, mlp_dim=32,
                            num_classes=10, in_channels=1).eval()
    assert vit.conv_proj.stride == (2, 2) and vit.conv_proj.kernel_size == (2, 2)
    assert tuple(vit.pos_embedding.shape) == (1, 17, 16) and tuple(vit.class_token.shape) == (1, 1, 16)
    x = fastnn.randn(3, 1, 8, 8)
    out = vit(x)
    assert tuple(out.shape) == (3, 10)
    maps = vit.attention_maps(x)
    assert len(maps) == 2 and all(tuple(m.shape) == (3, 4, 17, 17) for m in maps)
    np.testing.assert_allclose(maps[0].sum(-1).detach().numpy(), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="expected images"):
        vit(fastnn.randn(3, 1, 9, 9))
    with pytest.raises(ValueError, match="divisible"):
        VisionTransformer(image_size=8, patch_size=3)


def test_vit_takes_torchvisions_arguments_in_order():
    # torchvision.models.VisionTransformer(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim,
    # dropout, attention_dropout, num_classes)
    vit = VisionTransformer(8, 4, 3, 2, 8, 16, 0.1, 0.2, 5, in_channels=3)
    assert len(vit.encoder.layers) == 3 and vit.head.out_features == 5 and vit.conv_proj.in_channels == 3
    assert all(layer.self_attn.dropout == 0.2 for layer in vit.encoder.layers)
    assert all(layer.self_attn.num_heads == 2 for layer in vit.encoder.layers)
    assert tuple(vit(fastnn.randn(2, 3, 8, 8)).shape) == (2, 5)


def test_vit_trains_on_a_few_digits():
    pytest.importorskip("sklearn")
    from fastnn.datasets import digits
    from fastnn.train import train_vit
    X, y = digits()
    X = X.reshape(-1, 1, 8, 8)
    r = train_vit(X[:1200], y[:1200], X[1500:1700], y[1500:1700], image_size=8, patch_size=2, num_layers=1,
                  hidden_dim=64, mlp_dim=128, epochs=8, lr=2e-3, batch_size=32)
    assert r.accuracy > 0.5  # chance is 0.1 (this seed and size reach about 0.72)
    assert abs(float(r.prepare(X[:1200]).mean())) < 1e-4  # standardised with the training images' statistics
    assert r.history.history["loss"][-1] < r.history.history["loss"][0]


# ---------------------------------------------------------------- the sortedness task
def test_sorted_sequences_labels_lengths_padding():
    x, lengths, y = sorted_sequences(500, min_len=3, max_len=9, vocab_size=7, seed=0)
    assert x.shape == (500, 9) and x.dtype == np.int64 and 0.4 < y.mean() < 0.6
    for row, n, label in zip(x, lengths, y):
        seq = row[:n]
        assert 3 <= n <= 9 and np.all(row[n:] == 0) and np.all((seq >= 1) & (seq <= 7))
        assert bool(np.all(seq[1:] >= seq[:-1])) == bool(label)
    again = sorted_sequences(500, min_len=3, max_len=9, vocab_size=7, seed=0)
    np.testing.assert_array_equal(again[0], x)
    with pytest.raises(ValueError, match="min_len"):
        sorted_sequences(5, min_len=6, max_len=4)


def test_bag_of_words_is_at_chance_on_sortedness():
    pytest.importorskip("sklearn")
    from fastnn.train import train_tabular
    x, _, y = sorted_sequences(2000, vocab_size=10, seed=1)
    counts = token_counts(x, 10)
    assert counts.shape == (2000, 11) and np.all(counts[:, 0] == 0)
    np.testing.assert_array_equal(counts.sum(1), (x > 0).sum(1))
    r = train_tabular(counts, y, hidden=(32,), epochs=10, lr=2e-3, batch_size=64, seed=0)
    assert abs(r.scores["accuracy"] - 0.5) < 0.07

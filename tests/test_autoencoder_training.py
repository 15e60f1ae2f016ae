"""Short trainings on scikit-learn's digits that must learn (reduced settings, a few seconds each): the
denoising autoencoder lowers the held-out noise MSE, the two-headed model trains both heads through fit's
dict of losses and loss_weights, and the VAE's samples score far above the untrained VAE's with a classifier
trained on the real digits; plus the VAE train/val steps inside fit."""
import numpy as np
import pytest

import fastnn
from fastnn import metrics, nn
from fastnn.data import train_test_split
from fastnn.models import ConvVAE, DenoisingClassifier, elbo
from fastnn.train import (ImageEvaluator, NoisyImages, add_noise, fit, predict, train_autoencoder, train_vae,
                          vae_train_step, vae_val_step)


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    from fastnn.datasets import digits_images
    X, y = digits_images()
    return train_test_split(X, y, test_size=0.25, stratify=y, seed=0)


def test_add_noise_is_seeded_and_clipped():
    x = np.full((2, 1, 4, 4), 0.5, np.float32)
    a, b = add_noise(x, 0.8, seed=3), add_noise(x, 0.8, seed=3)
    assert np.array_equal(a, b) and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    assert not np.array_equal(a, add_noise(x, 0.8, seed=4))
    assert add_noise(x, 0.8, clip=None).max() > 1
    with pytest.raises(ValueError, match="'std'"):
        add_noise(x, -1)


def test_noisy_images_draw_fresh_noise_from_the_global_generator():
    x = np.full((6, 1, 4, 4), 0.5, np.float32)
    data = NoisyImages(x, 0.3, labels=np.arange(6))
    fastnn.manual_seed(7)
    first = data._fetch_batch(np.arange(6))
    second = data._fetch_batch(np.arange(6))
    fastnn.manual_seed(7)
    again = data._fetch_batch(np.arange(6))
    assert np.array_equal(first[0].numpy(), again[0].numpy())
    assert not np.array_equal(first[0].numpy(), second[0].numpy())
    assert 0 <= first[0].numpy().min() and first[0].numpy().max() <= 1
    assert set(first[1]) == {"label", "image"} and np.array_equal(first[1]["image"].numpy(), x)
    noisy, target = data[2]
    assert tuple(noisy.shape) == (1, 4, 4) and int(target["label"].item()) == 2
    noisy, clean = NoisyImages(x, 0.3)[0]
    assert tuple(clean.shape) == (1, 4, 4)
    with pytest.raises(ValueError, match="6 images but 2 labels"):
        NoisyImages(x, 0.1, labels=[0, 1])
    with pytest.raises(ValueError, match="'std'"):
        NoisyImages(x, -0.1)


def test_denoising_autoencoder_lowers_held_out_noise_mse(digits):
    x_train, x_test, _, _ = digits
    r = train_autoencoder(x_train[:800], x_test[:200], noise_std=0.4, latent_dim=32, epochs=8, lr=3e-3)
    assert r.input_mse == pytest.approx(np.mean((r.inputs - x_test[:200]) ** 2))
    assert r.output_mse < 0.6 * r.input_mse, (r.input_mse, r.output_mse)
    assert r.output_psnr > r.input_psnr + 2
    assert set(r.history.history) >= {"loss", "val_loss"}
    with pytest.raises(ValueError, match="'x_test' images differ"):
        train_autoencoder(x_train[:10], np.zeros((3, 1, 16, 16), np.float32), epochs=1)


def test_two_headed_model_trains_both_heads_with_loss_weights(digits):
    x_train, x_test, y_train, y_test = digits
    x_train, y_train, x_test, y_test = x_train[:800], y_train[:800], x_test[:200], y_test[:200]
    noisy_train, noisy_test = add_noise(x_train, 0.4, seed=1), add_noise(x_test, 0.4, seed=2)
    model = DenoisingClassifier(image_size=8, latent_dim=64)
    history = fit(model, (noisy_train, {"label": y_train, "image": x_train}),
                  {"label": nn.CrossEntropyLoss(), "image": nn.MSELoss()}, fastnn.optim.Adam(model.parameters(), 3e-3),
                  epochs=8, loss_weights={"label": 1.0, "image": 20.0}, metrics={"label": ["accuracy"]},
                  batch_size=64, verbose=0)
    assert {"loss", "label_loss", "image_loss", "label_accuracy"} <= set(history.history)
    loss = history.history
    assert loss["loss"][-1] == pytest.approx(loss["label_loss"][-1] + 20 * loss["image_loss"][-1], rel=1e-4)
    model.eval()
    out = predict(model, noisy_test)
    assert metrics.accuracy(y_test, out["label"].argmax(1)) > 0.6
    assert np.mean((out["image"] - x_test) ** 2) < 0.7 * np.mean((noisy_test - x_test) ** 2)


def test_vae_samples_score_far_above_the_untrained_vaes(digits):
    """Scored by a classifier trained on the real digits (ImageEvaluator): the trained VAE's samples are
    confidently classified, varied (Inception score) and near the real digits' features (Fréchet distance).
    The untrained VAE draws one grey blob, confidently put in one class: its confidence is no baseline."""
    x_train, x_test, y_train, _ = digits
    evaluator = ImageEvaluator(x_train, y_train, epochs=4, seed=0)
    r = train_vae(x_train, x_test[:200], latent_dim=4, epochs=10, lr=3e-3, batch_size=16)
    assert set(r.history.history) >= {"loss", "reconstruction", "kl", "val_loss", "val_reconstruction", "val_kl"}
    g = fastnn.Generator().manual_seed(0)
    trained = evaluator.score(r.model.sample(300, generator=g).numpy())
    fastnn.manual_seed(1)
    untrained_vae = ConvVAE(image_size=8, latent_dim=4)
    untrained = evaluator.score(untrained_vae.sample(300, generator=g).numpy())
    print({k: (trained[k], untrained[k]) for k in ("confidence", "inception_score", "frechet_distance")})
    # reduced settings: the full demo (40 epochs, a fully trained evaluator) reaches confidence 0.87, IS 6.7
    assert trained["confidence"] > 0.4
    assert trained["inception_score"] > untrained["inception_score"] + 1
    assert trained["frechet_distance"] < 0.3 * untrained["frechet_distance"]
    assert (trained["class_counts"] >= 3).sum() >= 8
    # the held-out ELBO rose from the untrained model's
    assert r.elbo.elbo > elbo(untrained_vae, x_test[:200]).elbo + 10
    assert r.elbo.kl > 0


def test_vae_steps_inside_fit_log_reconstruction_and_kl():
    x = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    vae = ConvVAE(image_size=8, latent_dim=2, channels=(4, 4), hidden_dim=8)
    opt = fastnn.optim.SGD(vae.parameters(), lr=0.01)
    h = fit({"vae": vae}, (x, np.zeros(20)), optimizer={"vae": opt}, train_step=vae_train_step(beta=2.0),
            val_step=vae_val_step(beta=2.0), val_data=x, epochs=2, batch_size=8, verbose=0)
    logs = h.history
    for prefix in ("", "val_"):
        assert logs[prefix + "loss"][-1] == pytest.approx(logs[prefix + "reconstruction"][-1] +
                                                          2 * logs[prefix + "kl"][-1], rel=1e-5)
    with pytest.raises(ValueError, match="'beta'"):
        fit({"vae": vae}, x, optimizer={"vae": opt}, train_step=vae_train_step(beta=-1), epochs=1, verbose=0)

"""``fastnn demo vae``: registered, trains on digits, saves its sample grid in the working directory and
prints the classifier confidence of the generated digits beside the untrained VAE's."""
import re

import pytest

from fastnn import cli, demos


def test_vae_demo_prints_confidence_beside_the_untrained_vaes(capsys, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    assert "vae" in demos.DEMOS
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "vae", "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fastnn demo vae: a convolutional variational autoencoder")
    assert re.search(r"trained 2 epochs in \d+\.\ds; held-out ELBO -\d+\.\d\d nats per image \(untrained VAE "
                     r"-\d+\.\d\d\)", out), out
    assert re.search(r"trained VAE +untrained VAE +real digits", out), out
    assert re.search(r"confidence \(mean max-probability\) +[01]\.\d{4} +[01]\.\d{4} +[01]\.\d{4}", out), out
    m = re.search(r"Inception score \(10 at most\) +(\d+\.\d{3}) +(\d+\.\d{3}) +(\d+\.\d{3})", out)
    assert m and float(m.group(3)) > float(m.group(2)), out  # real digits above the untrained VAE
    assert re.search(r"Frechet distance to real digits +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d", out), out
    assert (tmp_path / demos.VAE_SAMPLES_FILE).stat().st_size > 1000

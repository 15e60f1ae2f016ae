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
    m = re.search(r"confidence \(mean max-probability\): ([01]\.\d{4})  \(untrained VAE ([01]\.\d{4})\)", out)
    assert m, out
    assert re.search(r"Frechet distance to real held-out digits: \d+\.\d\d  \(untrained VAE \d+\.\d\d\)", out)
    assert (tmp_path / demos.VAE_SAMPLES_FILE).stat().st_size > 1000

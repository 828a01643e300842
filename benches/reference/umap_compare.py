"""umap-learn as the reference for vaerun's UMAP (src/cluster/umap.rs).

    python umap_compare.py fixture [--latents LATENT.npy --latents-note TEXT] --out tests/fixtures/umap_reference.json
        Writes the fixture the Rust test `umap_trustworthiness` reads: each
        dataset's points (float32, stored exactly), umap-learn's
        trustworthiness (scikit-learn, k = 10) for seeds 0-4 with default
        parameters, and one umap-learn embedding with scikit-learn's
        trustworthiness of it (to check vaerun's trustworthiness itself).

    python umap_compare.py time X.npy REPEATS
        Times umap-learn on the points in X.npy (float32) and prints JSON.
        The first fit is a warm-up for numba's JIT and is not counted.

Datasets: scikit-learn's make_blobs (800 x 10, 6 centres) and
make_swiss_roll (1000 x 3, noise 0.05), both random_state 0, and optionally
a latent matrix from the built-in corpus (a cache entry's latent.npy).
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")  # umap-learn warns that random_state disables parallelism

SEEDS = [0, 1, 2, 3, 4]
K_TRUST = 10


def datasets(latents):
    from sklearn.datasets import make_blobs, make_swiss_roll

    blobs, _ = make_blobs(n_samples=800, n_features=10, centers=6, cluster_std=1.0, random_state=0)
    roll, _ = make_swiss_roll(n_samples=1000, noise=0.05, random_state=0)
    out = {"blobs": blobs, "swiss_roll": roll}
    if latents:
        out["corpus_latents"] = np.load(latents)
    # float32 throughout: the fixture stores exactly what both sides embed.
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def rows(a):
    """float32 values as their shortest decimal form, which parses back to the same float32."""
    return [[float(str(np.float32(v))) for v in row] for row in a]


def fit(x, seed):
    import umap

    return umap.UMAP(n_neighbors=15, min_dist=0.1, n_components=2, random_state=seed).fit_transform(x)


def fixture(args):
    import sklearn
    import umap
    from sklearn.manifold import trustworthiness

    result = {
        "generated_by": "benches/reference/umap_compare.py fixture",
        "versions": {
            "umap-learn": umap.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "umap_call": "umap.UMAP(n_neighbors=15, min_dist=0.1, n_components=2, random_state=seed).fit_transform(x)",
        "trust_call": f"sklearn.manifold.trustworthiness(x, embedding, n_neighbors={K_TRUST})",
        "k": K_TRUST,
        "sources": {
            "blobs": "make_blobs(n_samples=800, n_features=10, centers=6, cluster_std=1.0, random_state=0)",
            "swiss_roll": "make_swiss_roll(n_samples=1000, noise=0.05, random_state=0)",
            "corpus_latents": args.latents_note,
        },
        "datasets": {},
    }
    for name, x in datasets(args.latents).items():
        trust = []
        for seed in SEEDS:
            y = fit(x, seed)
            trust.append(float(trustworthiness(x, y, n_neighbors=K_TRUST)))
            if seed == 0 and name == "swiss_roll":
                # An embedding to test vaerun's trustworthiness against scikit-learn's.
                y32 = y.astype(np.float32)
                result["trust_check"] = {
                    "dataset": name,
                    "embedding": rows(y32),
                    "trustworthiness": float(trustworthiness(x, y32, n_neighbors=K_TRUST)),
                }
        result["datasets"][name] = {
            "x": rows(x),
            "umap_learn_trustworthiness": trust,
            "umap_learn_mean": float(np.mean(trust)),
        }
        print(f"{name}: {x.shape}, umap-learn trustworthiness {np.mean(trust):.4f} ± {np.std(trust):.4f}", file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(result, f, separators=(",", ":"))


def timing(args):
    import numba
    import umap

    x = np.load(args.x).astype(np.float32)
    fit(x, 0)  # warm-up: numba compiles on first use
    times = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        fit(x, r)
        times.append(time.perf_counter() - t0)
    print(json.dumps({
        "n": int(x.shape[0]),
        "seconds": times,
        "median_s": float(np.median(times)),
        "numba_threads": numba.get_num_threads(),
        "umap_learn": umap.__version__,
    }))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture")
    f.add_argument("--latents")
    f.add_argument("--latents-note", default="", help="where the latents came from")
    f.add_argument("--out", required=True)
    t = sub.add_parser("time")
    t.add_argument("x")
    t.add_argument("repeats", type=int)
    args = p.parse_args()
    {"fixture": fixture, "time": timing}[args.cmd](args)


if __name__ == "__main__":
    main()

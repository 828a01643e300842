"""scikit-learn side of benches/clustering.rs: KMeans(k=10, n_init=10) and
silhouette on the same 1000 x 16 blobs, one thread, median of runs 2..N
(as oracle.py perf). Prints one JSON line."""
import json, os, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

X = np.loadtxt(sys.argv[1], delimiter=",")
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 11
km, sil = [], []
for r in range(runs):
    t0 = time.perf_counter(); m = KMeans(n_clusters=10, n_init=10, random_state=r).fit(X); t1 = time.perf_counter()
    silhouette_score(X, m.labels_); t2 = time.perf_counter()
    km.append(t1 - t0); sil.append(t2 - t1)
print(json.dumps({"kmeans_s": float(np.median(km[1:])), "silhouette_s": float(np.median(sil[1:]))}))

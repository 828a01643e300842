"""librosa side of benches/audio.rs: librosa.load(path, sr=22050) (soundfile
decode + soxr_hq resampling) and librosa.feature.mfcc(n_mfcc=20) with its
mean/std summary, on the WAV files the benchmark wrote, in one warm process
on one thread. Prints one JSON line: the best of N timed passes for the
long file and for the clips (after one untimed warm-up pass), and the
versions and BLAS kernel in use.

    python librosa_audio.py REPS LONG.wav CLIP1.wav CLIP2.wav ...
"""
import json
import os
import sys
import time

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[v] = "1"
import librosa  # noqa: E402
import numpy as np  # noqa: E402


def process(path):
    y, sr = librosa.load(path, sr=22050, mono=True)
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)])


def best(paths, reps):
    for p in paths:  # warm-up: imports, FFT plans, numba's JIT
        process(p)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        for p in paths:
            process(p)
        times.append(time.perf_counter() - t)
    return min(times)


reps, long_wav, clips = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
try:
    from threadpoolctl import threadpool_info
    blas = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()]
except Exception as e:  # noqa: BLE001
    blas = str(e)
print(json.dumps({
    "long_s": best([long_wav], reps),
    "clips_s": best(clips, reps),
    "librosa": librosa.__version__,
    "numpy": np.__version__,
    "blas": blas,
}))

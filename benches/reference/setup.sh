#!/usr/bin/env bash
# Builds the reference environment that the benchmarks and the fixture
# generator measure vaerun against: librosa, scikit-learn, umap-learn and a
# CPU-usable PyTorch, from the PyPI registry only.
#
#     bash benches/reference/setup.sh [VENV]          # default .venv-reference (ignored by git)
#     VAERUN_PYTHON=.venv-reference/bin/python cargo bench
#
# Why the torch steps: on Linux x86_64 PyPI serves only the CUDA build of
# torch, whose NVIDIA dependency wheels are ~3.5 GB. torch is installed with
# --no-deps, plus the small NVIDIA runtime wheels that libtorch loads at import,
# plus abort-on-call stub libraries (made by torch_cuda_stubs.py from the real
# libraries' symbol tables) for the big GPU-only ones. Every CPU kernel is
# torch's own; a call into a stub aborts loudly, so a stub can never change a
# number. Set TORCH=0 to skip torch (the training benchmarks then report
# vaerun's figure alone). About 2.2 GB with torch.
set -euo pipefail
VENV=${1:-.venv-reference}
HERE=$(cd "$(dirname "$0")" && pwd)
TORCH_VER=${TORCH_VER:-2.15.0}
python3 -m venv "$VENV"
PIP="$VENV/bin/pip"
"$PIP" install -q --upgrade pip
# The reference libraries, pinned so that regenerated fixtures are byte-identical.
"$PIP" install -q numpy==2.4.6 scipy==1.17.1 scikit-learn==1.9.1 librosa==0.11.0 numba==0.68.1 \
  soundfile==0.14.0 soxr==1.1.0 threadpoolctl umap-learn==0.5.12 pandas
if [ "${TORCH:-1}" != 0 ]; then
  "$PIP" install -q --no-deps "torch==$TORCH_VER"
  "$PIP" install -q filelock typing-extensions setuptools sympy networkx jinja2 fsspec
  # torch's own pins for the NVIDIA wheels, resolved by a dry run.
  REPORT=$(mktemp)
  "$PIP" install -q --dry-run --ignore-installed --report "$REPORT" "torch==$TORCH_VER" >/dev/null
  mapfile -t ALL < <("$VENV/bin/python" -c "
import json
for it in json.load(open('$REPORT'))['install']:
    m = it['metadata']
    if m['name'].startswith('nvidia-') and m['name'] != 'nvidia-cuda-cccl':
        print(m['name'] + '==' + m['version'])
")
  REAL=(); STUB=()
  for p in "${ALL[@]}"; do
    case "$p" in
      nvidia-cuda-runtime==*|nvidia-cuda-cupti==*|nvidia-cuda-nvrtc==*|nvidia-cufile==*) REAL+=("$p");;
      nvidia-nvtx==*|nvidia-nvjitlink==*) ;;   # not loaded at import
      *) STUB+=("$p");;
    esac
  done
  "$PIP" install -q --no-deps "${REAL[@]}"
  TMP=$(mktemp -d)
  "$PIP" download -q --no-deps -d "$TMP/whl" "${STUB[@]}"
  "$VENV/bin/python" - "$TMP" <<'PY'
import glob, re, sys, zipfile
tmp = sys.argv[1]
want = re.compile(r'lib(cublas|cublasLt|cudnn|cufft|cusparse|cusparseLt|nccl|nvshmem_host|cusolver)\.so\.\d+$')
for w in glob.glob(f'{tmp}/whl/*.whl'):
    z = zipfile.ZipFile(w)
    for n in z.namelist():
        if want.search(n):
            z.extract(n, f'{tmp}/libs')
PY
  SP=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  "$VENV/bin/python" "$HERE/torch_cuda_stubs.py" "$TMP/libs" "$TMP/stubs"
  mkdir -p "$SP/nvidia/cusparselt/lib"   # a folder on libtorch's RPATH
  cp "$TMP"/stubs/*.so.[0-9]* "$SP/nvidia/cusparselt/lib/"
  echo "abort-on-call stubs made by torch_cuda_stubs.py; NOT NVIDIA libraries" >"$SP/nvidia/cusparselt/lib/STUBS-README.txt"
  rm -rf "$TMP" "$REPORT"
  "$VENV/bin/python" -c "import torch; print('torch', torch.__version__, 'cuda available:', torch.cuda.is_available())"
fi
"$VENV/bin/python" -c "import librosa, sklearn, numpy; print('librosa', librosa.__version__, 'scikit-learn', sklearn.__version__, 'numpy', numpy.__version__)"
du -sh "$VENV"

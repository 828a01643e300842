"""Builds a small labelled real-music set from freely licensed game music in
Debian's archive: the soundtracks of four games, each by its own composers
and in its own style, cut into 30 s excerpts at 22050 Hz mono, 40 per game,
in the GTZAN folder layout (DIR/<game>/<game>.000NN.wav). It is what
experiments/segments.toml was checked on besides the built-in corpus.

    apt-get download wesnoth-1.16-music hedgewars-data supertux-data freedroidrpg-data
    python game_music.py DEBS_DIR OUT_DIR

Needs librosa and soundfile (the reference environment). Excerpts are taken
round-robin over a game's tracks, skipping each track's first 10 s, so every
track contributes before any contributes twice.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

GAMES = {
    "wesnoth": ("wesnoth-1.16-music", "usr/share/games/wesnoth/1.16/data/core/music"),
    "hedgewars": ("hedgewars-data", "usr/share/games/hedgewars/Data/Music"),
    "supertux": ("supertux-data", "usr/share/games/supertux2/music"),
    "freedroid": ("freedroidrpg-data", "usr/share/freedroidrpg/data/sound/music"),
}
SR, CLIP, SKIP, PER_CLASS = 22050, 30.0, 10.0, 40


def main(debs: Path, out: Path):
    with tempfile.TemporaryDirectory() as tmp:
        for game, (package, folder) in GAMES.items():
            deb = next(debs.glob(f"{package}_*.deb"))
            root = Path(tmp) / game
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            tracks = sorted(p for p in (root / folder).rglob("*.ogg"))
            excerpts = []
            for t in tracks:
                y, _ = librosa.load(str(t), sr=SR, mono=True)
                starts = np.arange(SKIP, len(y) / SR - CLIP, CLIP)
                excerpts.append([(t.name, y, int(s * SR)) for s in starts])
            picked = []
            while len(picked) < PER_CLASS and any(excerpts):
                for e in excerpts:
                    if e and len(picked) < PER_CLASS:
                        picked.append(e.pop(0))
            (out / game).mkdir(parents=True, exist_ok=True)
            for i, (name, y, s) in enumerate(picked):
                sf.write(str(out / game / f"{game}.{i:05d}.wav"), y[s:s + int(CLIP * SR)], SR,
                         subtype="PCM_16")
            print(f"{game}: {len(picked)} excerpts from {len(tracks)} tracks")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

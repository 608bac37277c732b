"""The training data of `megabyte train`, window for window: the same files, split and random windows.

A directory of files is read as @megabyte/patching reads it (every non-hidden file, recursively,
sorted by relative path), documents are joined by the boundary id, held out by the same seeded
shuffle (splitCorpus), and training windows come from the same sfc32 generator (Rng,
RandomWindowSampler), so a run here sees exactly the windows a TypeScript run of the same seed sees,
and the sampler state in trainer.json is interchangeable.
"""

from __future__ import annotations

import bisect
import math
import os

import numpy as np

from .config import BOUNDARY_ID

_MASK = 0xFFFFFFFF


def _mix32(value: int) -> int:
    z = value & _MASK
    z = ((z ^ (z >> 16)) * 0x21F0AAAD) & _MASK
    z = ((z ^ (z >> 15)) * 0x735A2D97) & _MASK
    return (z ^ (z >> 15)) & _MASK


class Rng:
    """sfc32, as patching's Rng: the same seed gives the same numbers as in TypeScript."""

    def __init__(self, seed: int):
        low, high = seed & _MASK, (seed // 2**32) & _MASK
        self.a = _mix32(low + 0x9E3779B9)
        self.b = _mix32(high ^ _mix32(low))
        self.c = _mix32(self.a ^ self.b ^ 0x85EBCA6B)
        self.d = 1
        for _ in range(12):
            self.next_uint32()

    @classmethod
    def from_state(cls, state: dict) -> "Rng":
        words = state.get("words") if isinstance(state, dict) else None
        if not (isinstance(state, dict) and state.get("algorithm") == "sfc32" and isinstance(words, list)
                and len(words) == 4 and all(isinstance(w, int) and 0 <= w <= _MASK for w in words)):
            raise ValueError(f"Rng state: expected {{algorithm: 'sfc32', words: four unsigned 32-bit integers}}, "
                             f"got {state!r}")
        rng = cls(0)
        rng.a, rng.b, rng.c, rng.d = words
        return rng

    def state(self) -> dict:
        return {"algorithm": "sfc32", "words": [self.a, self.b, self.c, self.d]}

    def next_uint32(self) -> int:
        t = (self.a + self.b + self.d) & _MASK
        self.d = (self.d + 1) & _MASK
        self.a = self.b ^ (self.b >> 9)
        self.b = (self.c + (self.c << 3)) & _MASK
        self.c = ((self.c << 21) | (self.c >> 11)) & _MASK
        self.c = (self.c + t) & _MASK
        return t

    def int(self, n: int) -> int:
        """Uniform in [0, n) without modulo bias."""
        limit = 2**32 - (2**32 % n)
        while True:
            value = self.next_uint32()
            if value < limit:
                return value % n

    def shuffle(self, items: list) -> list:
        for index in range(len(items) - 1, 0, -1):
            other = self.int(index + 1)
            items[index], items[other] = items[other], items[index]
        return items


class Corpus:
    """Documents in order with BOUNDARY_ID between consecutive ones; ids read on demand."""

    def __init__(self, documents: list[bytes]):
        if not documents:
            raise ValueError("Corpus: no documents given")
        self.bytes = np.frombuffer(b"".join(documents), dtype=np.uint8)
        self.starts = [0]
        for document in documents:
            self.starts.append(self.starts[-1] + len(document))
        self.length = len(self.bytes) + len(documents) - 1
        # Stream position of each document's first byte (bytes before it plus one boundary per document).
        self.stream_starts = [start + index for index, start in enumerate(self.starts[:-1])]

    def read_ids(self, start: int, length: int) -> np.ndarray:
        if start < 0 or length < 0 or start + length > self.length:
            raise ValueError(f"Corpus.read_ids: range [{start}, {start + length}) is outside the corpus of "
                             f"{self.length} ids")
        out = np.empty(length, dtype=np.int64)
        position, written, end = start, 0, start + length
        document = bisect.bisect_right(self.stream_starts, start) - 1
        while position < end:
            offset = position - self.stream_starts[document]
            size = self.starts[document + 1] - self.starts[document]
            if offset < size:
                count = min(end - position, size - offset)
                source = self.starts[document] + offset
                out[written:written + count] = self.bytes[source:source + count]
                written += count
                position += count
            else:
                out[written] = BOUNDARY_ID
                written += 1
                position += 1
                document += 1
        return out


def split_corpus(documents: list[bytes], validation_fraction: float, seed: int = 0) -> tuple[Corpus, Corpus]:
    """splitCorpus: round(f * count) whole documents held out by a seeded shuffle, or the tail of one."""
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation fraction must be strictly between 0 and 1, got {validation_fraction}")
    if len(documents) == 1:
        data = documents[0]
        if len(data) < 2:
            raise ValueError(f"a single document of {len(data)} bytes cannot be split in two")
        held = min(len(data) - 1, max(1, _js_round(validation_fraction * len(data))))
        return Corpus([data[:len(data) - held]]), Corpus([data[len(data) - held:]])
    count = min(len(documents) - 1, max(1, _js_round(validation_fraction * len(documents))))
    order = Rng(seed).shuffle(list(range(len(documents))))
    held = sorted(order[:count])
    kept = set(held)
    return (Corpus([d for i, d in enumerate(documents) if i not in kept]),
            Corpus([documents[i] for i in held]))


def _js_round(value: float) -> int:
    return math.floor(value + 0.5)


class RandomWindowSampler:
    """Windows of `window_length` ids at uniform random starts (multiples of `alignment`)."""

    def __init__(self, corpus: Corpus, window_length: int, seed: int, alignment: int = 1):
        if corpus.length < window_length:
            raise ValueError(f"the training data has {corpus.length} ids but one window needs {window_length}: "
                             "use more data or a model with a shorter context")
        self.corpus, self.window_length, self.alignment = corpus, window_length, alignment
        self.rng = Rng(seed)
        self.windows_drawn = 0

    def next_batch(self, count: int) -> np.ndarray:
        """[count, window_length] int64"""
        starts = (self.corpus.length - self.window_length) // self.alignment + 1
        rows = []
        for _ in range(count):
            self.windows_drawn += 1
            rows.append(self.corpus.read_ids(self.rng.int(starts) * self.alignment, self.window_length))
        return np.stack(rows)

    def state(self) -> dict:
        state = {"rng": self.rng.state(), "windowsDrawn": self.windows_drawn,
                 "windowLength": self.window_length, "corpusLength": self.corpus.length}
        if self.alignment > 1:
            state["alignment"] = self.alignment
        return state

    def restore(self, state: dict) -> None:
        if (state.get("windowLength"), state.get("corpusLength"), state.get("alignment", 1)) != \
                (self.window_length, self.corpus.length, self.alignment):
            raise ValueError(
                f"the sampler state is for windows of {state.get('windowLength')} over {state.get('corpusLength')} "
                f"ids, but this run has windows of {self.window_length} over {self.corpus.length}: resume with the "
                "same --data and model")
        self.rng = Rng.from_state(state["rng"])
        self.windows_drawn = state["windowsDrawn"]


def read_corpus_directory(directory: str) -> list[tuple[str, bytes]]:
    """Every non-hidden file under `directory`, recursively, sorted by relative '/'-path."""
    if os.path.isfile(directory):
        with open(directory, "rb") as file:
            return [(os.path.basename(directory), file.read())]
    if not os.path.isdir(directory):
        raise ValueError(f"--data {directory}: no such file or directory")
    paths = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d))]
        for name in files:
            if not name.startswith(".") and os.path.isfile(os.path.join(root, name)):
                paths.append(os.path.relpath(os.path.join(root, name), directory).replace(os.sep, "/"))
    # JavaScript compares UTF-16 code units; the order differs from Python's only for characters
    # beyond U+FFFF in file names.
    paths.sort(key=lambda p: p.encode("utf-16-be"))
    documents = []
    for path in paths:
        with open(os.path.join(directory, path), "rb") as file:
            documents.append((path, file.read()))
    if not documents:
        raise ValueError(f"--data {directory}: the directory holds no files")
    return documents

"""The data pipeline draws exactly the numbers, splits and windows of @megabyte/patching.

The expected values were printed by the TypeScript classes (Rng, splitCorpus, RandomWindowSampler)."""

from megabyte_torch.data import RandomWindowSampler, Rng, read_corpus_directory, split_corpus

DOCUMENTS = [b"alpha", b"bravo!", b"charlie", b"delta", b"echo", b"foxtrot"]


def test_rng_matches_typescript():
    rng = Rng(42)
    assert [rng.next_uint32(), rng.next_uint32(), rng.next_uint32(), rng.int(1000), rng.int(7)] == \
        [4175557226, 2981424767, 2903480056, 865, 4]
    assert Rng(-5).state()["words"] == [416217247, 1508872216, 3165013661, 13]
    assert Rng(2**40 + 3).state()["words"] == [206670014, 2344707565, 2661799221, 13]


def test_split_and_windows_match_typescript():
    train, validation = split_corpus(DOCUMENTS, 0.34, seed=0)
    assert validation.read_ids(0, validation.length).tolist() == list(b"alpha") + [257] + list(b"charlie")
    sampler = RandomWindowSampler(train, window_length=6, seed=3)
    assert sampler.next_batch(3).reshape(-1).tolist() == \
        [111, 120, 116, 114, 111, 116, 108, 116, 97, 257, 101, 99, 111, 33, 257, 100, 101, 108]
    state = sampler.state()
    assert state == {"rng": {"algorithm": "sfc32", "words": [2467561502, 3321424022, 421989027, 16]},
                     "windowsDrawn": 3, "windowLength": 6, "corpusLength": 25}
    resumed = RandomWindowSampler(train, window_length=6, seed=99)
    resumed.restore(state)
    assert resumed.next_batch(2).tolist() == sampler.next_batch(2).tolist()


def test_a_directory_is_read_sorted_without_hidden_files(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_bytes(b"2")
    (tmp_path / "a.txt").write_bytes(b"1")
    (tmp_path / "B.txt").write_bytes(b"0")
    (tmp_path / ".hidden").write_bytes(b"no")
    assert read_corpus_directory(str(tmp_path)) == [("B.txt", b"0"), ("a.txt", b"1"), ("b/x.txt", b"2")]

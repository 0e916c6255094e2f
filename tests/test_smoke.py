def test_tiny_model_trains_and_scores(tiny_lm):
    [s] = tiny_lm.score(["the cat sat on the mat ."])
    assert s.num_tokens == 8
    assert s.oov_count == 0

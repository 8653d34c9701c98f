"""``MaskedModel.words`` on the bundled model: the word spans tile exactly the tokens a run sees."""

from maskattn import load_model
from maskattn.words import check_spans

TEXT = "The internationalization of cats, it's plain."


def test_words_tile_the_tokens_of_a_run_and_name_the_words():
    model = load_model()
    spans, labels = model.words(TEXT)
    ids, _ = model.tokenize(TEXT)
    check_spans(spans, ids.shape[1])
    _, tokens = model.token_strings(ids[0])
    assert tokens[2:4] == ["international", "##ization"]
    assert spans[2] == (2, 4) and labels[2] == "internationalization"
    assert labels[0] == "[CLS]" and labels[-1] == "[SEP]" and labels[1] == "The"


def test_a_cut_text_has_the_words_of_the_tokens_kept():
    model = load_model()
    text = " ".join(f"internationalization{i}" for i in range(200))
    ids, dropped = model.tokenize(text, max_tokens=40)
    assert dropped > 0
    spans, labels = model.words(text, max_tokens=40)
    check_spans(spans, ids.shape[1])
    assert labels[-1] == "[SEP]" and len(spans) == len(labels)

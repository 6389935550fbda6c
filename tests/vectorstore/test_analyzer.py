"""The text analyzer: code-aware tokens whole and in parts, stopwords, stemming, fields;
and the text configuration's validation."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorstore.config import TextConfig, parse_text_config
from vectorstore.errors import InvalidConfig
from vectorstore.text import runs
from vectorstore.text.analyzer import Analyzer, field_text
from vectorstore.text.runs import RunTable

ENGLISH = Analyzer(TextConfig())


@pytest.mark.parametrize("text, terms", [
    ("pg_stat_activity", ["pg_stat_activity", "pg", "stat", "activ"]),
    ("os.path.join()", ["os.path.join", "os", "path", "join"]),
    ("--max-connections=100", ["--max-connections", "max", "connect", "100"]),
    ("SQLSTATE 23505", ["sqlstate", "23505"]),
    ("getElementById", ["getelementbyid", "get", "element", "id"]),
    ("v1.2.3", ["v1.2.3", "v1", "2", "3"]),
    ("sphinx-build -b html", ["sphinx-build", "sphinx", "build", "-b", "html"]),
    ("HTTPServer", ["httpserver", "http", "server"]),
    ("__init__", ["__init__", "init"]),
])
def test_code_tokens_are_indexed_whole_and_as_parts(text, terms):
    assert ENGLISH.terms(text) == terms


def test_plain_words_are_lowered_stemmed_and_stopped():
    assert ENGLISH.terms("The Running dogs, and a cat's TOYS!") == ["run", "dog", "cat", "toy"]
    assert ENGLISH.terms("connection connections connecting") == ["connect"] * 3
    assert ENGLISH.terms("x - y -1 3.14") == ["1", "3.14", "3", "14"]
    assert ENGLISH.terms("") == [] and ENGLISH.terms("the of and") == []


def test_unicode_words_and_long_compounds():
    assert ENGLISH.terms("Über café naïve") == ["über", "café", "naïv"]
    url = "https://example.org/" + "a" * 80
    assert url.lower() not in ENGLISH.terms(url)
    assert "exampl" in ENGLISH.terms(url)


def test_language_and_stopwords_are_configurable():
    plain = Analyzer(TextConfig(language=None, stopwords=()))
    assert plain.terms("The running dogs") == ["the", "running", "dogs"]
    german = Analyzer(parse_text_config({"language": "german", "stopwords": ["der"]}))
    assert german.terms("der Häuser") == ["haus"]


def test_field_text_reads_strings_lists_and_dotted_paths():
    payload = {"text": "a", "heading_path": ["Intro", 3, "Setup"], "meta": {"title": "T"}}
    assert field_text(payload, "text") == "a"
    assert field_text(payload, "heading_path") == "Intro Setup"
    assert field_text(payload, "meta.title") == "T"
    assert field_text(payload, "meta.missing") == "" and field_text(payload, "text.x") == ""
    assert field_text({"n": 5}, "n") == ""


def _rows(table: RunTable, payloads: list[dict]) -> list[tuple[dict[str, float], float]]:
    """Each payload's row as the growing segment's run table makes it: {term: weighted
    frequency}, weighted length."""
    row_start, ids, tfs, lengths = table.rows(payloads)
    return [({table.names[t]: float(f) for t, f in zip(ids[a:b], tfs[a:b], strict=True)},
             float(length)) for a, b, length in zip(row_start[:-1], row_start[1:], lengths,
                                                    strict=True)]


def test_compound_parts_count_for_part_weight_in_documents_and_fully_in_queries():
    analyzer = Analyzer(TextConfig(fields=(("text", 1.0),), part_weight=0.25))
    assert analyzer.weighted_terms("identity_key identity") == [
        ("identity_key", 1.0), ("ident", 0.25), ("key", 0.25), ("ident", 1.0)]
    assert _rows(RunTable(analyzer), [{"text": "identity_key identity"}]) == [
        ({"identity_key": 1.0, "ident": 1.25, "key": 0.25}, 2.5)]
    tokens, counted = analyzer.query("identity_key identity")
    assert tokens == 2 and list(counted.items()) == [("identity_key", 1), ("ident", 2),
                                                     ("key", 1)]


def test_documents_weigh_their_fields():
    analyzer = Analyzer(TextConfig(fields=(("text", 1.0), ("title", 3.0))))
    assert _rows(RunTable(analyzer), [{"text": "dogs bark at dogs", "title": "Dogs"}, {"n": 1},
                            {"title": "the"}]) == [
        ({"dog": 5.0, "bark": 1.0}, 3 + 3.0), ({}, 0.0), ({}, 0.0)]


def test_a_case_without_humps_is_one_word_alone_or_in_a_compound():
    assert ENGLISH.terms("4KB 4KB. I2C") == ["4kb", "4kb", "i2c"]
    assert ENGLISH.terms("I2C_BUS 4KB-aligned") == ["i2c_bus", "i2c", "bus", "4kb-aligned",
                                                   "4kb", "align"]
    assert ENGLISH.terms("MP3Player") == ["mp3player", "mp3", "player"]


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(st.sampled_from(list("aZ9_.-:/' \u2019\u00e9"
                                                   "Kb-Dog dogs"))), max_size=6),
       batches=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_the_run_table_gives_each_row_its_weighted_terms(texts, batches):
    """Rows from the run table, in batches of any size, hold the terms and weights that
    `weighted_terms` lists (what the BM25 oracle counts), summed per term."""
    analyzer = Analyzer(TextConfig(fields=(("text", 1.0), ("title", 2.0))))
    payloads = [{"text": t, "title": t[::-1]} for t in texts]
    table, rows, at = RunTable(analyzer), [], 0
    for size in batches * len(payloads):
        if at >= len(payloads):
            break
        rows += _rows(table, payloads[at:at + size])
        at += size
    for payload, (freqs, length) in zip(payloads, rows, strict=True):
        want: dict[str, float] = {}
        for name, weight in analyzer.config.fields:
            for term, counts_for in analyzer.weighted_terms(payload[name]):
                want[term] = want.get(term, 0.0) + weight * counts_for
        assert freqs.keys() == want.keys()
        assert all(math.isclose(freqs[t], want[t], rel_tol=1e-6) for t in want)
        assert math.isclose(length, sum(want.values()), rel_tol=1e-6, abs_tol=1e-9)


def test_a_run_table_past_its_bound_starts_afresh_and_rows_stay_the_same(monkeypatch):
    analyzer = Analyzer(TextConfig(fields=(("text", 1.0),)))
    payloads = [{"text": f"word{i} pg_stat_{i % 3} The Dogs"} for i in range(12)]
    whole = _rows(RunTable(analyzer), payloads)
    monkeypatch.setattr(runs, "RUN_LIMIT", 5)
    table = RunTable(analyzer)
    assert [row for i in range(0, 12, 3) for row in _rows(table, payloads[i:i + 3])] == whole
    assert len(table._ids) <= 3 * 4


@pytest.mark.parametrize("spec, message", [
    ({"fields": {}}, "at least one"),
    ({"fields": {"text": 0}}, "weight"),
    ({"fields": {"text": True}}, "weight"),
    ({"fields": {"": 1}}, "not a payload field"),
    ({"fields": 3}, "must map field names"),
    ({"language": "klingon"}, "no stemmer"),
    ({"stopwords": "latin"}, "not a built-in list"),
    ({"k1": -1}, "k1"),
    ({"b": 2}, "text.b"),
    ({"part_weight": 0}, "part_weight"),
    ({"analyser": "x"}, r"unknown text key\(s\) \['analyser'\]"),
    ("yes", "must be true, false or an object"),
])
def test_bad_text_configs_are_refused(spec, message):
    with pytest.raises(InvalidConfig, match=message):
        parse_text_config(spec)


def test_config_round_trips_through_plain_values():
    config = parse_text_config({"fields": {"text": 1, "title": 2.5}, "stopwords": "none"})
    assert config.fields == (("text", 1), ("title", 2.5)) and config.stopwords == ()
    again = parse_text_config({"fields": [list(f) for f in config.fields],
                               "language": config.language, "stopwords": [],
                               "k1": config.k1, "b": config.b})
    assert again == config
    assert parse_text_config(True) == TextConfig()
    assert parse_text_config(False) is None and parse_text_config(None) is None

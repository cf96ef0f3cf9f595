"""Text corpora: Shakespeare split by whole works, files split like nanoGPT, URLs downloaded once and verified."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from trainer.errors import ConfigError
from trainer.data import cache, text
from trainer.schemas.gpt import TextDataConfig


def test_shakespeare_is_split_by_whole_works_deterministically():
    corpus = text.load(TextDataConfig(), "exp.yaml")
    works = corpus.record["splits"]
    assert set(works["train"]["works"]).isdisjoint(works["val"]["works"])
    assert len(works["train"]["works"]) + len(works["val"]["works"]) == 42
    assert 0.1 <= works["val"]["chars"] / corpus.record["chars"] < 0.2
    assert "hamlet" in works["train"]["works"] + works["val"]["works"]
    again = text.load(TextDataConfig(), "exp.yaml")
    assert again.splits == corpus.splits and again.record == corpus.record
    other = text.load(TextDataConfig(split_seed=7), "exp.yaml")
    assert other.record["splits"]["val"]["works"] != works["val"]["works"]


def test_a_text_file_is_split_first_90_last_10_percent(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcdefghij" * 10)
    corpus = text.load(TextDataConfig(path=str(path)), "exp.yaml")
    assert corpus.splits == {"train": ("abcdefghij" * 10)[:90], "val": ("abcdefghij" * 10)[90:]}
    assert corpus.record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_or_non_utf8_text_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="text file not found") as e:
        text.load(TextDataConfig(path=str(tmp_path / "nope.txt")), "exp.yaml")
    assert e.value.key == "data.path"
    (tmp_path / "bin.txt").write_bytes(b"ok\xff\xfe")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 2\)"):
        text.load(TextDataConfig(path=str(tmp_path / "bin.txt")), "exp.yaml")


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/www that counts the requests it answers."""
    www = tmp_path / "www"
    www.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def test_url_text_is_downloaded_once_into_the_cache_and_verified(server, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    www, base, hits = server
    body = ("To be, or not to be, that is the question:\n" * 50).encode()
    (www / "play.txt").write_bytes(body)
    cfg = TextDataConfig(url=f"{base}/play.txt", sha256=hashlib.sha256(body).hexdigest(),
                         path=str(tmp_path / "no-local-copy.txt"))
    first = text.load(cfg, "exp.yaml")
    second = text.load(cfg, "exp.yaml")
    assert hits == ["/play.txt"]
    assert first.splits == second.splits and first.record["source"] == cfg.url


def test_url_text_with_another_hash_is_refused_and_not_cached(server, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    www, base, _ = server
    (www / "play.txt").write_text("changed upstream\n")
    cfg = TextDataConfig(url=f"{base}/play.txt", sha256="0" * 64)
    with pytest.raises(ConfigError, match="downloaded content has sha256 .* expected 0000") as e:
        text.load(cfg, "exp.yaml")
    assert e.value.key == "data.url"
    assert list((tmp_path / "cache" / "downloads").iterdir()) == []

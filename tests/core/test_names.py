"""`core.names.path_part`: a corpus-derived name is always one path component, and names stay apart."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from edu_affect_data.core.names import MAX_PART, path_part

ODD = ["..", ".", "a/b", "/abs", "a\\b", "a\x00b", ".hidden", "100%", "é", " ", "a b", "\udcff"]


@pytest.mark.parametrize("name", ODD)
def test_an_odd_name_is_one_component_that_decodes_back(name: str, tmp_path: Path) -> None:
    part = path_part(name)
    assert (tmp_path / part).parent == tmp_path and (tmp_path / part).name == part
    assert part not in {".", ".."} and not part.startswith(".")
    assert "/" not in part and "\x00" not in part and "\\" not in part
    assert unquote(part, errors="surrogatepass") == name


def test_plain_ids_are_unchanged() -> None:
    for name in ("Ses01F_impro01", "-_sipeZeYSJ", "bvU_i4y-wa4", "iemocap:Ses01F_impro01:Ses01_F:000", "a.b"):
        assert path_part(name) == name


def test_distinct_names_never_share_a_part() -> None:
    names = [*ODD, "a_b", "a%2Fb", "%2E.", "x" * 400, "x" * 401, "a:b", "a.b"]
    parts = [path_part(n) for n in names]
    assert len(set(parts)) == len(names)
    assert all(len(p) <= MAX_PART for p in parts)


def test_an_empty_name_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        path_part("")

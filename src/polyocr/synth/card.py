"""The dataset card: shard stats merged, charset coverage, ``dataset.json`` and ``README.md``.

Everything is computed from the shard sidecars alone (never from memory), so a resumed run writes the
same card as an uninterrupted one. Both files are written atomically, ``dataset.json`` first:
``README.md``'s presence is the sign that the dataset is complete. See :mod:`polyocr.synth.shards` for
the folder layout.
"""

from __future__ import annotations

import json
import shlex
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

from polyocr.synth.shards import SIDECAR_VERSION, _json_bytes, _Stats, atomic_write_bytes

__all__ = ["merge_shard_stats", "charset_coverage", "write_card", "command_line"]


def merge_shard_stats(stats: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum sidecar ``stats`` dicts (the card is computed only from these, never from memory)."""
    total = _Stats()
    for st in stats:
        total.samples += st["samples"]
        total.rejected.update(st["rejected"])
        total.languages.update(st["languages"])
        total.layouts.update(st["layouts"])
        total.lines += st["lines"]
        total.lines_by_language.update(st["lines_by_language"])
        for lang, hist in st["chars"].items():
            total.chars.setdefault(lang, Counter()).update(hist)
        total.files.update(st["files"])
        total.bytes += st["bytes"]
    return total.to_dict()


def charset_coverage(
    chars: Mapping[str, Mapping[str, int]],
    charset: Mapping[str, Iterable[str] | Mapping[str, float]],
    *,
    top: int = 30,
) -> dict[str, dict[str, Any]]:
    """Per language: how much of its charset the data shows, what is missing, what is outside.

    A plain set has no frequencies, so its missing characters are listed in code-point order; give
    a ``{char: weight}`` mapping (e.g. corpus frequencies) to list the most common missing first.
    """
    report: dict[str, dict[str, Any]] = {}
    for lang in sorted(charset):
        wanted = charset[lang]
        weights = dict(wanted) if isinstance(wanted, Mapping) else {}
        want = {unicodedata.normalize("NFC", c) for c in wanted if not c.isspace()}
        seen = chars.get(lang, {})
        missing = [c for c in want if not seen.get(c)]
        missing.sort(key=lambda c: (-weights.get(c, 0.0), c))
        outside = sorted(((c, n) for c, n in seen.items() if c not in want), key=lambda cn: (-cn[1], cn[0]))
        report[lang] = {
            "charset_size": len(want),
            "seen": len(want) - len(missing),
            "percent": round(100.0 * (len(want) - len(missing)) / len(want), 2) if want else 100.0,
            "missing_count": len(missing),
            "missing": missing[:top],
            "outside_count": len(outside),
            "outside": [[c, n] for c, n in outside[:top]],
        }
    return report


def _md_table(header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _md_chars(chars: Iterable[str]) -> str:
    """Characters for a markdown cell; code points keep invisible/combining ones legible."""
    return " ".join(f"`{c}`" if c.isprintable() and c not in "`|" else f"U+{ord(c):04X}" for c in chars) or "—"


def _load_snippet(name: str, fmt: str, n_shards: int) -> list[str]:
    if fmt == "folder":
        return [
            "```python",
            "# plain folder: files <key>.<ext>; group them by key",
            "from collections import defaultdict",
            "from pathlib import Path",
            "samples = defaultdict(dict)",
            f'for p in sorted(Path("{name}").iterdir()):',
            '    if p.name.startswith(("shard-", "dataset.json", "README")):',
            "        continue",
            '    key, ext = p.name.split(".", 1)',
            "    samples[key][ext] = p.read_bytes()",
            "```",
        ]
    last = f"{max(n_shards - 1, 0):05d}"
    return [
        "```python",
        "# Hugging Face datasets (webdataset builder)",
        "from datasets import load_dataset",
        f'ds = load_dataset("webdataset", data_files={{"train": "{name}/shard-*.tar"}}, split="train", streaming=True)',
        "",
        "# webdataset",
        "import webdataset as wds",
        f'ds = wds.WebDataset("{name}/shard-{{00000..{last}}}.tar")',
        "",
        "# plain tarfile: one sample's members are consecutive, key = name up to the first dot",
        "import itertools, tarfile",
        "from pathlib import Path",
        f'for shard in sorted(Path("{name}").glob("shard-*.tar")):',
        "    with tarfile.open(shard) as tar:",
        '        for key, group in itertools.groupby(tar, key=lambda m: m.name.split(".", 1)[0]):',
        '            sample = {m.name.split(".", 1)[1]: tar.extractfile(m).read() for m in group}',
        "```",
    ]


def write_card(
    out: Path,
    sidecars: list[Mapping[str, Any]],
    *,
    config: Mapping[str, Any],
    card_info: Mapping[str, Any],
    charset: Mapping[str, Iterable[str]] | None,
    command: str,
    generator_version: str,
) -> dict[str, Any]:
    """Write ``dataset.json`` and ``README.md`` from the shard sidecars; returns dataset.json's dict.

    Raises ValueError when two shards' keys overlap (a producer whose keys don't follow indices).
    """
    out = Path(out)
    sidecars = sorted(sidecars, key=lambda s: s["shard"])
    prev = None
    for sc in sidecars:
        if sc.get("first_key") is None:
            continue
        if prev is not None and sc["first_key"] <= prev["last_key"]:
            raise ValueError(
                f"keys overlap between {prev['name']} (last {prev['last_key']!r}) and {sc['name']} "
                f"(first {sc['first_key']!r}): keys must sort like indices"
            )
        prev = sc
    totals = merge_shard_stats(sc["stats"] for sc in sidecars)
    chars = totals["chars"]
    all_chars: Counter[str] = Counter()
    for hist in chars.values():
        all_chars.update(hist)
    coverage = charset_coverage(chars, charset) if charset else None
    fmt = str(config.get("format", "tar"))
    doc = {
        "format_version": SIDECAR_VERSION,
        "name": card_info.get("name", out.name),
        "seed": card_info.get("seed"),
        "generator_version": generator_version,
        "command": command,
        "config": dict(config),
        "card_info": dict(card_info),
        "totals": {
            "samples": totals["samples"],
            "rejected": totals["rejected"],
            "languages": totals["languages"],
            "layouts": totals["layouts"],
            "lines": totals["lines"],
            "lines_by_language": totals["lines_by_language"],
            "distinct_chars": len(all_chars),
            "distinct_chars_by_language": {lang: len(h) for lang, h in chars.items()},
            "files": totals["files"],
            "bytes": totals["bytes"],
            "chars": chars,
        },
        "coverage": coverage,
        "shards": [
            {k: sc.get(k) for k in ("name", "start", "stop", "samples", "size", "sha256")} for sc in sidecars
        ],
    }

    n_idx = sum(sc["stop"] - sc["start"] for sc in sidecars)
    first = sidecars[0]["start"] if sidecars else int(config.get("start", 0))
    rejected = sum(totals["rejected"].values())
    md = [f"# {doc['name']}", ""]
    if card_info.get("description"):
        md += [str(card_info["description"]), ""]
    md += [
        f"Synthetic OCR data made by polyocr's generator (version `{generator_version}`).",
        "",
        f"- samples: **{totals['samples']}** in {len(sidecars)} shard(s) ({fmt}) from indices [{first}, {first + n_idx})",
        f"- rejected: {rejected} of {n_idx} indices",
        f"- lines: {totals['lines']}",
        f"- distinct characters: {len(all_chars)}",
        f"- seed: `{doc['seed']}`",
        f"- size: {totals['bytes']} bytes of sample files",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        "## Languages",
        "",
        *_md_table(
            ("language", "samples", "lines", "distinct chars"),
            ((lang, n, totals["lines_by_language"].get(lang, 0), len(chars.get(lang, {})))
             for lang, n in sorted(totals["languages"].items())),
        ),
        "",
        "## Layouts",
        "",
        *_md_table(("layout", "samples"), sorted(totals["layouts"].items())),
        "",
        "## Rejected",
        "",
        *(_md_table(("reason", "count"), sorted(totals["rejected"].items(), key=lambda kv: (-kv[1], kv[0])))
          if totals["rejected"] else ["none"]),
        "",
    ]
    if coverage:
        md += [
            "## Charset coverage",
            "",
            *_md_table(
                ("language", "charset", "seen", "coverage %", "most common missing", "most common outside charset"),
                ((lang, c["charset_size"], c["seen"], f"{c['percent']:.2f}", _md_chars(c["missing"][:15]),
                  _md_chars(ch for ch, _ in c["outside"][:15]))
                 for lang, c in coverage.items()),
            ),
            "",
        ]
    md += ["## How to load", "", *_load_snippet(out.name, fmt, len(sidecars)), ""]
    if card_info:
        md += ["## Generator settings", "", "```json",
               json.dumps(card_info, sort_keys=True, ensure_ascii=False, indent=1, default=str), "```", ""]
    # dataset.json first: README.md's presence is the sign that everything else is in place
    atomic_write_bytes(out / "dataset.json", _json_bytes(doc))
    atomic_write_bytes(out / "README.md", "\n".join(md).encode("utf-8"))
    return doc


def command_line(argv: Iterable[str]) -> str:
    """A shell-pasteable command line."""
    return shlex.join(list(argv))

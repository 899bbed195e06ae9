"""Inference: preprocessing, greedy CTC decoding, RTL/mixed/vertical handling, weights loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import polyocr
from polyocr.bidi import to_visual
from polyocr.charset import BLANK, Charset
from polyocr.pipeline.recognize import (INK_MARGIN, MAX_STRETCH, STRETCH_BELOW, STRETCH_TO, NoWeights, Recognizer, ctc_greedy, cut_to_ink, erase_rules,
                                        finish_line, is_vertical, pad_batch, split_wide, plan_batches, prepare_line, split_narrow_runs,
                                        stretch_factor, NARROW, NARROW_RUN, ink_extent, median_u8)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cs() -> Charset:
    return Charset.load()


def _frames(cs: Charset, visual: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ids/probs that spell ``visual`` the way a CTC model does: runs, blanks, repeats."""
    ids: list[int] = [BLANK]
    for ch in visual:
        (i,), _ = cs.encode(ch) if ch != " " else ([1], [])
        if ids[-1] == i:
            ids.append(BLANK)             # doubled letters need a blank between them
        ids += [i] * int(rng.integers(1, 4)) + [BLANK] * int(rng.integers(0, 3))
    ids.append(BLANK)
    probs = rng.uniform(0.6, 1.0, len(ids))
    return np.array(ids), probs


@pytest.mark.parametrize("logical,direction", [
    ("מחיר 120 ש״ח ב-2024", "rtl"),
    ("السعر 45.50 دولار Microsoft Office", "rtl"),
    ("عرض خاص (50%) لمدة 3 أيام", "rtl"),
    ("Meeting at 10:30 with דוד כהן", "ltr"),
    ("vertical 縦書き 2024年", "ltr"),
])
def test_decodes_display_order_into_logical_order(cs, logical, direction):
    visual = to_visual(logical, direction)
    ids, probs = _frames(cs, visual, np.random.default_rng(0))
    chars, conf, _ = ctc_greedy(ids, probs, len(ids))
    assert cs.decode(chars) == visual
    given = finish_line(cs, chars, conf, 0.5, direction)
    inferred = finish_line(cs, chars, conf, 0.5, None)       # direction from the characters read
    assert given.text == logical and inferred.text == logical
    assert len(given.char_confidences) == len(logical) and 0.6 <= given.confidence <= 1.0


def test_confidences_follow_their_characters(cs):
    visual = to_visual("אב 12", "rtl")                      # "12 בא"
    ids = [cs.encode(c)[0][0] if c != " " else 1 for c in visual]
    conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    line = finish_line(cs, ids, conf, 0.5, "rtl")
    assert line.text == "אב 12"
    assert dict(zip(line.text, line.char_confidences)) == {"1": 0.9, "2": 0.8, " ": 0.7, "ב": 0.6, "א": 0.5}


def test_ctc_greedy_collapses_and_trims(cs):
    a, b = cs.encode("ab")[0]
    ids = np.array([1, 1, 0, a, a, 0, a, 1, 0, 1, b, b, 1, 0, 0, 0])
    probs = np.linspace(0.5, 0.95, len(ids))
    chars, conf, mean = ctc_greedy(ids, probs, 13)           # frames past the length are padding
    assert cs.decode(chars) == "aa b"
    assert conf[0] == pytest.approx(probs[4])                # the best frame of the first "a" run
    assert mean == pytest.approx(probs[:13].mean())
    assert ctc_greedy(np.zeros(5, int), np.full(5, 0.9), 5)[:2] == ([], [])


def test_vertical_lines_are_turned_counter_clockwise():
    tall = np.full((300, 40), 255, np.uint8)
    tall[:20] = 0                                            # ink at the top of the column...
    x = prepare_line(tall)
    assert x.shape == (32, 240)                              # 300 px of column → 240 px of line at height 32
    assert x[:, :16].mean() < x[:, 40:].mean()               # ...is at the left of the line
    assert is_vertical(tall.shape) and not is_vertical((40, 300)) and not is_vertical((40, 70))
    assert prepare_line(tall, vertical=False).shape == (32, 4)


def test_preprocessing_normalises_polarity_scale_and_width():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 300), dtype=np.uint8)
    x = prepare_line(img)
    assert x.shape == (32, 200) and abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-3
    assert prepare_line(np.full((32, 80), 200, np.uint8)).std() == 0.0      # flat crop: no noise blow-up
    assert prepare_line(rng.integers(0, 256, (10, 2000), dtype=np.uint8)).shape == (32, 1600)  # squeezed
    batch, widths = pad_batch([x, x[:, :37]])
    assert batch.shape == (2, 1, 32, 200) and widths.tolist() == [200, 37] and (batch[1, 0, :, 37:] == 0).all()


def test_no_weights_is_a_clear_error(tmp_path):
    with pytest.raises(NoWeights, match="no recogniser weights installed"):
        polyocr.recognize(np.zeros((32, 100), np.uint8), weights=str(tmp_path))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny random model, checkpointed like a real run."""
    from polyocr.models.recognizer import RecognizerConfig, RecognizerNet as Net
    from polyocr.train.loop import save_checkpoint
    from polyocr.train.recipes import TrainConfig

    charset = Charset.load()
    mc = RecognizerConfig(n_classes=len(charset), stem=(8, 16), stages=(16, 24), blocks=(1, 0), d_model=32,
                          n_layers=1, n_heads=2, head_dim=16)
    torch.manual_seed(0)
    model = Net(mc)
    opt = torch.optim.AdamW(model.parameters())
    run = tmp_path_factory.mktemp("run")
    save_checkpoint(run, 1, model, opt, TrainConfig(model=mc), charset, {"position": None})
    return run


@pytest.fixture(scope="module")
def weights(tiny_run, tmp_path_factory):
    """The tiny model exported as fp32, without a gate."""
    from polyocr.train.export import export

    run = tiny_run
    out = tmp_path_factory.mktemp("weights")
    meta = export(run, out, quantize="none", n_parity=2, gate_lines=0, ink_margin=None)
    assert meta["parity"]["fp32"]["text_agreement"] == 1.0 and "ink_margin" not in meta["input"]
    return out


def test_default_export_quantises_convs_and_gates_the_head(tiny_run, tmp_path):
    """The shipped export path end to end on a tiny model: calibrated int8 convolutions, dynamic
    int8 matmuls and a blank gate that is used only if it keeps the readings."""
    import onnx

    from polyocr.train.export import export

    meta = export(tiny_run, tmp_path, n_parity=2, gate_lines=40, gate_check_lines=12, calib_lines=32)
    assert meta["input"]["ink_margin"] == INK_MARGIN                 # inference cuts crops to the ink by default
    ops = {n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeMatMul"} <= ops or \
        {"QuantizeLinear", "DequantizeLinear", "MatMulInteger"} <= ops, sorted(ops)
    assert meta["onnx"]["quantization"].startswith("convolutions int8 static")
    gate = meta["blank_gate"]
    assert gate["fit_lines"] == 40 and 0.0 <= gate["heldout"]["skipped_share"] <= 1.0
    assert gate["used"] == (gate["heldout_parity"]["text_agreement"] >= 0.97)
    rec = Recognizer(tmp_path, threads=1)
    out = rec.recognize([np.full((32, 200), 255, np.uint8)])
    assert len(out) == 1 and 0.0 <= out[0].confidence <= 1.0


def test_recognizer_batches_by_width_and_keeps_order(weights, monkeypatch):
    rec = Recognizer(weights, threads=1, batch_size=2, stretch=False)   # the first pass only: noise may read sparse
    seen: list[tuple[int, ...]] = []
    run = rec.run
    monkeypatch.setattr(rec, "run", lambda b, w: (seen.append(b.shape), run(b, w))[1])
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (32, w), dtype=np.uint8) for w in (300, 40, 160)] + [np.full((400, 50), 255, np.uint8)]
    out = rec.recognize(images)
    assert len(out) == 4 and all(isinstance(r.text, str) and 0 <= r.confidence <= 1 for r in out)
    # widest first; the tall crop became 256 px wide and joins the 300 px line (7 % padding), while
    # 160 and 40 px lines would each pad more than 12 % of their batch, so they run alone
    assert seen == [(2, 1, 32, 304), (1, 1, 32, 160), (1, 1, 32, 40)]
    alone = [rec.recognize([im])[0] for im in images]
    assert [r.text for r in alone] == [r.text for r in out]


@pytest.mark.parametrize("seed", range(5))
def test_batch_plan_covers_every_line_once_and_bounds_padding(seed):
    rng = np.random.default_rng(seed)
    widths = rng.integers(8, 1600, int(rng.integers(1, 120))).tolist()
    batches = plan_batches(widths, max_batch=16, max_waste=0.12)
    assert sorted(i for b in batches for i in b) == list(range(len(widths)))
    for b in batches:
        assert 1 <= len(b) <= 16
        padded = max(widths[i] for i in b) * len(b)
        assert sum(widths[i] for i in b) >= 0.88 * padded
    # so the model never runs on more than 1/0.88 of the real pixels
    assert sum(max(widths[i] for i in b) * len(b) for b in batches) <= 1.14 * sum(widths)


def test_public_api_and_charset_refusal(weights, tmp_path):
    img = np.random.default_rng(2).integers(0, 256, (30, 120), dtype=np.uint8)
    one = polyocr.recognize(img, weights=str(weights))
    text, confidence, per_char = one
    assert len(per_char) == len(text)
    assert polyocr.recognize([img, img], weights=str(weights)) == [one, one]
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in weights.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    meta = json.loads((bad / "model.json").read_text())
    meta["charset"]["sha256"] = "0" * 64
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="charset"):
        Recognizer(bad)


def test_a_letterless_line_of_a_right_to_left_page_is_put_in_logical_order(cs):
    """The number "+966 50 543 6028" in a right-to-left paragraph is displayed "6028 543 50 966+"; the
    packaged model reads that display from a rendered line, infers left to right (no letters), and
    with_direction turns it back. The page pipeline does this for letterless lines of ar/he pages."""
    from polyocr.pipeline.recognize import default_recognizer, with_direction
    from render_util import render

    logical = "+966 50 543 6028"
    shown = to_visual(logical, "rtl")
    assert shown == "6028 543 50 966+"
    img = render(logical, "ar", "rtl", size=30)                  # drawn as the generator draws RTL lines
    rec = default_recognizer()
    reading = rec.read([img])[0]
    assert reading.visual == shown and reading.line.text == shown  # inferred left to right
    turned = with_direction(reading, "rtl", cs)
    assert turned.line.text == logical and turned.direction == "rtl" and turned.visual == shown
    assert sorted(turned.line.char_confidences) == sorted(reading.line.char_confidences)
    assert with_direction(turned, "rtl", cs) is turned


def test_ink_margin_cuts_roomy_crops_across_to_their_ink():
    line = np.full((100, 400), 230, np.uint8)
    line[40:60, 20:380] = 20                                 # 20 px of ink in a 100 px crop
    cut = cut_to_ink(line, 0.25)
    assert cut.shape == (30, 400) and (cut[:5] == 230).all() and (cut[5:25, 20:380] == 20).all()
    tight = line[38:62]                                      # tighter than ink ± 5 px: kept, never padded
    assert cut_to_ink(tight, 0.25).shape == tight.shape
    # the scaled line is as wide as the ink's height allows: 400 px × 32 / 30, not × 32 / 100
    assert prepare_line(line, ink_margin=0.25).shape == (32, 427)
    assert prepare_line(line).shape == (32, 128)
    tall = np.ascontiguousarray(np.rot90(line, -1))          # the same ink as a vertical column
    assert prepare_line(tall, vertical=True, ink_margin=0.25).shape == (32, 427)
    assert cut_to_ink(np.full((50, 200), 240, np.uint8), 0.25).shape == (50, 200)   # no ink: as given


def test_recognizer_takes_its_ink_margin_from_model_json(tmp_path):
    import shutil

    from polyocr.pipeline.recognize import DEFAULT_WEIGHTS

    for name in ("model.onnx", "model.json"):
        shutil.copy(DEFAULT_WEIGHTS / name, tmp_path / name)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert Recognizer(tmp_path, threads=1).meta.ink_margin == meta["input"].get("ink_margin")
    meta["input"]["ink_margin"] = 0.1
    (tmp_path / "model.json").write_text(json.dumps(meta))
    rec = Recognizer(tmp_path, threads=1)
    line = np.full((100, 400), 230, np.uint8)
    line[40:60, 20:380] = 20
    assert rec.meta.ink_margin == 0.1 and rec.prepare([line], [False])[0].shape == (32, 533)   # 24 rows
    del meta["input"]["ink_margin"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    assert Recognizer(tmp_path, threads=1).prepare([line], [False])[0].shape == (32, 128)


def test_split_wide_cuts_in_the_gaps_between_characters():
    rng = np.random.default_rng(3)
    x = np.zeros((32, 3000), np.float32)
    for start in range(10, 2980, 40):                       # "characters" 28 px wide (30 % ink), 12 px gaps
        x[:, start:start + 28] = (rng.random((32, 28)) < 0.3) * 2.0
    pieces = split_wide(x, 1600)
    assert len(pieces) == 2 and sum(p.shape[1] for p in pieces) == 3000
    cut = pieces[0].shape[1]
    assert cut % 4 == 0 and (x[:, cut - 1:cut + 1] == 0).all()          # on the frame grid, in a gap
    assert all(abs(p.mean()) < 1e-4 and abs(p.std() - 1) < 1e-3 for p in pieces)   # each normalised
    assert split_wide(x[:, :1600], 1600)[0] is not None and len(split_wide(x[:, :1600], 1600)) == 1
    solid = rng.normal(0, 1, (32, 5000)).astype(np.float32)                # no gap anywhere: plain cuts
    assert all(p.shape[1] <= 1600 for p in split_wide(solid, 1600))
    assert sum(p.shape[1] for p in split_wide(solid, 1600)) == 5000


_DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _underlined(text: str, width: int = 420, rule: bool = True, gap: int = 3) -> tuple[np.ndarray, int]:
    """A form value as a detector crop catches it: text over a 2 px field rule that runs on to the
    crop's right edge (DejaVu Sans 20 px in a 40 px strip)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (width, 40), 235)
    draw, font = ImageDraw.Draw(img), ImageFont.truetype(_DEJAVU, 20)
    draw.text((8, 6), text, fill=30, font=font)
    y = 6 + font.getmetrics()[0] + gap
    if rule:
        draw.line([(6, y), (width - 1, y)], fill=40, width=2)
    return np.asarray(img), y


def test_a_field_rule_under_a_line_is_painted_over_and_its_letters_kept():
    line, y = _underlined("jiyeong@daum.net", gap=2)          # j, y and g reach through the rule
    plain, _ = _underlined("jiyeong@daum.net", rule=False)
    out = erase_rules(line)
    changed = sorted(set(np.nonzero(out != line)[0].tolist()))
    assert changed and min(changed) >= y - 2 and max(changed) <= y + 2          # only the rule's rows
    assert (np.abs(out[y - 1:y + 2, 260:].astype(int) - 235) <= 16).all()       # right of the text: gone
    letters = plain < 100                                     # every letter pixel, descenders included
    outside = letters.copy()
    outside[y:y + 2] = False                                  # but the descenders' tips inside the rule
    assert (out[outside] < 140).all() and (out[letters] < 140).mean() > 0.95
    assert np.array_equal(out[:y - 2], line[:y - 2])          # above the rule: untouched


def test_what_is_no_rule_is_left_alone():
    plain, _ = _underlined("Invoice No. 55778", rule=False)
    assert np.array_equal(erase_rules(plain), plain)                  # text only
    dash = np.full((30, 50), 235, np.uint8)
    dash[14:16, 6:44] = 30                                            # a dash (or 一) alone in a short crop
    assert np.array_equal(erase_rules(dash), dash)
    block = np.full((40, 400), 235, np.uint8)
    block[10:30, :] = 40                                              # a shaded band: too thick for a rule
    assert np.array_equal(erase_rules(block), block)
    assert np.array_equal(erase_rules(np.full((40, 400), 235, np.uint8)), np.full((40, 400), 235, np.uint8))


def test_the_shipped_recogniser_reads_an_underlined_value_without_the_rule():
    """Real ONNX inference: before the rule was painted over, this crop read "jiyeong@daumnet_"."""
    rec = Recognizer(threads=1)
    assert rec.meta.ink_margin is not None                          # the page path, where rules are erased
    line, _ = _underlined("jiyeong@daum.net")
    assert rec.recognize([line])[0].text == "jiyeong@daum.net"
    kept = prepare_line(line, rec.height, False, None, ink_margin=rec.meta.ink_margin, rules=False)
    erased = prepare_line(line, rec.height, False, None, ink_margin=rec.meta.ink_margin)
    assert kept.shape[0] == erased.shape[0] and not np.array_equal(kept, erased)


def test_only_lines_sparser_than_training_are_read_again_wider():
    other, arabic = STRETCH_BELOW["other"], STRETCH_BELOW["arabic"]
    assert arabic < other                                   # joined Arabic letters run denser
    assert stretch_factor("Invoice 42", int(10 * other) + 1) == 1.0
    assert stretch_factor("Invoice 42", 15) == pytest.approx(STRETCH_TO["other"] / 1.5)
    assert stretch_factor("Invoice 42", 2) == MAX_STRETCH                     # capped
    word = "مرحبا بكم في"                                    # 12 characters, space included
    assert stretch_factor(word, int(12 * 2.0)) == 1.0                        # dense enough for Arabic ...
    assert stretch_factor("Hello there!", int(12 * 2.0)) > 1.0               # ... not for Latin
    assert stretch_factor(word, 18) == pytest.approx(STRETCH_TO["arabic"] / 1.5)
    assert stretch_factor("a", 1) == 1.0 and stretch_factor("", 40) == 1.0   # too little read to judge


def test_the_shipped_recogniser_reads_condensed_lines_by_widening_them(monkeypatch):
    """Real fonts squeezed to 45 % of their width (condensed faces, receipts): ~1.5 frames per
    character, below anything trained on. Measured: NED 0.13-0.44 read as they are, 0-0.03 widened."""
    from render_util import render

    from polyocr.eval.metrics import ned

    on, off = Recognizer(threads=1), Recognizer(threads=1, stretch=False)
    calls: list[int] = []
    real_run = on.run
    monkeypatch.setattr(on, "run", lambda batch, w: calls.append(len(w)) or real_run(batch, w))
    plain, widened = [], []
    for text in ("Invoice number 4217 from Bristol", "Shipping address: 12 Park Road"):
        for seed in range(3):
            img = render(text, "en", font_seed=seed)
            squeezed = np.asarray(Image.fromarray(img).resize((int(img.shape[1] * 0.45), img.shape[0]), Image.BILINEAR))
            plain.append(ned(off.read([squeezed], [False])[0].line.text, text))
            widened.append(ned(on.read([squeezed], [False])[0].line.text, text))
            normal = on.read([img], [False])[0]
            assert ned(normal.line.text, text) < 0.05
    assert calls.count(1) == 6 * 2 + 6            # each squeezed line read twice, each normal one once
    assert np.mean(plain) > 0.1 and np.mean(widened) < 0.05, (np.mean(plain), np.mean(widened))


def _narrow_frames(cs: Charset, runs: list[tuple[str, int]], blank_at: dict[int, float] | None = None):
    """Frame outputs (ids, probs, alt_ids, alt_probs) for ``runs`` of (character or "" = blank, frames);
    ``blank_at``: frame → blank probability listed second among its alternatives."""
    ids = [BLANK if not ch else cs.encode(ch)[0][0] for ch, n in runs for _ in range(n)]
    t = len(ids)
    alt_ids = np.zeros((t, 4), np.int64)
    alt_p = np.zeros((t, 4), np.float32)
    for f, i in enumerate(ids):
        b = (blank_at or {}).get(f, 0.01)
        alt_ids[f, :2] = (i, BLANK) if i != BLANK else (BLANK, cs.encode("ר")[0][0])
        alt_p[f, :2] = (1.0 - b, b)
    return np.array(ids), alt_p[:, 0].copy(), alt_ids, alt_p


def test_a_narrow_letter_over_three_frames_or_more_is_read_as_two(cs):
    narrow = frozenset(cs.encode(NARROW)[0])
    yod = "י"
    # "ייתכן" with its two yods run together over four frames, the third likelier blank than the others
    frames = _narrow_frames(cs, [("", 1), (yod, 4), ("ת", 2), ("", 1)], blank_at={3: 0.3})
    before = [a.copy() for a in frames]
    split = split_narrow_runs(frames, narrow)
    assert all(np.array_equal(a, b) for a, b in zip(frames, before))           # the input is not changed
    assert split[0].tolist()[1:5] == [frames[0][1]] * 2 + [BLANK, frames[0][1]]   # cut where blank was likeliest
    assert split[1][3] == pytest.approx(0.3) and split[2][3, 0] == BLANK
    out, _, _ = ctc_greedy(split[0], split[1], len(split[0]))
    assert cs.decode(out) == yod + yod + "ת"
    # a tie: the middle frame of the run
    assert split_narrow_runs(_narrow_frames(cs, [(yod, 5)]), narrow)[0].tolist().index(BLANK) == 2
    # a run of one or two frames is one letter, and a wide letter may fill any number of frames
    for runs in ([(yod, NARROW_RUN - 1), ("", 1)], [("ש", 6)], [("", 3)]):
        f = _narrow_frames(cs, runs)
        assert split_narrow_runs(f, narrow) is f


@pytest.mark.parametrize("font, size, text", [
    ("FrankRuehlCLM-MediumOblique.ttf", 26, "אוקיינוס וחיים"),
    ("KeterYG-MediumOblique.ttf", 22, "הרווחים עליה מוות"),
])
def test_the_shipped_recogniser_keeps_tightly_set_doubled_letters(font, size, text):
    """Culmus faces set yod-yod and vav-vav so tightly that the pair fills one run of frames
    (measured with v15: "וחים", "מות" without the split)."""
    from PIL import ImageDraw, ImageFont

    path = f"/usr/share/fonts/truetype/culmus/{font}"
    f = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.RAQM)
    box = f.getbbox(text, direction="rtl")
    img = Image.new("L", (box[2] + 20, box[3] + 16), 255)
    ImageDraw.Draw(img).text((10, 8), text, font=f, fill=0, direction="rtl")
    assert Recognizer(threads=1).read([img], directions=["rtl"])[0].line.text == text
    assert Recognizer(threads=1, split_narrow=False).read([img], directions=["rtl"])[0].line.text != text


def test_a_line_can_be_read_at_another_width():
    """Real ONNX inference: ``aspects`` widens the line as the model sees it (one frame per 4 columns),
    and a Korean line still reads at 1.2 × its width (the pipeline's second reading of doubtful lines)."""
    from render_util import render

    from polyocr.eval.metrics import ned

    rec = Recognizer(threads=1)
    text = "대한민국 대통령 선거"
    img = render(text, "ko")
    base, wide = rec.read([img, img], [False, False], aspects=[1.0, 1.2])
    assert len(wide.alt_ids) == pytest.approx(1.2 * len(base.alt_ids), abs=2)
    assert ned(base.line.text, text) < 0.1 and ned(wide.line.text, text) < 0.1
    with pytest.raises(ValueError, match="aspects"):
        rec.read([img], [False], aspects=[1.0, 1.2])


def test_histogram_median_and_ink_rows_match_the_sorting_ones() -> None:
    """The uint8 fast path of ink_extent (histogram median, absdiff) gives the int16 path's answer."""
    rng = np.random.default_rng(7)
    for t in range(3000):
        h, w = int(rng.integers(1, 50)), int(rng.integers(1, 300))
        a = rng.integers(0, 256, (h, w), dtype=np.uint8)
        if t % 4 == 0:
            a = np.where(rng.random((h, w)) < 0.3, 20, 235).astype(np.uint8)   # two levels: even counts split
        elif t % 4 == 1:
            a[:] = a[0, 0]
        g = a.astype(np.int16)
        med = int(np.median(g))
        assert median_u8(a) == med
        rows = np.flatnonzero((np.abs(g - med) > 48).sum(axis=1) >= max(2, w // 200))
        assert ink_extent(a) == ((int(rows[0]), int(rows[-1])) if len(rows) else (0, h - 1))
    assert ink_extent(np.full((9, 40), 255, np.uint8)) == (0, 8)
    line = np.full((30, 200), 250, np.uint8)
    line[11:19, 20:180] = 10
    assert ink_extent(line) == ink_extent(line.astype(np.float32)) == (11, 18)


def test_light_lettering_on_a_dark_ground_is_turned_dark_on_light():
    """Dark slides, dark-mode screenshots, reversed headings: the crop is inverted before scaling, so
    the recogniser sees the polarity nearly all its training lines have; other crops are left alone."""
    from polyocr.pipeline.recognize import DARK_GROUND, dark_on_light

    from render_util import render

    line = render("Quarterly revenue grew by 12%", lang="en", size=28)          # dark ink, light paper
    assert dark_on_light(line) is line
    assert np.array_equal(dark_on_light(255 - line), line)                       # white on black
    heading = np.where(line < 128, 250, 40).astype(np.uint8)                     # white on a dark band
    assert np.array_equal(dark_on_light(heading), 255 - heading)
    assert np.array_equal(prepare_line(heading), prepare_line(255 - heading))
    dim = np.where(line < 128, 10, DARK_GROUND - 20).astype(np.uint8)            # black on dark grey: dark ink
    assert dark_on_light(dim) is dim
    grey = np.where(line < 128, 255, DARK_GROUND + 10).astype(np.uint8)           # white on mid grey: left
    assert dark_on_light(grey) is grey
    rec = Recognizer(threads=1)                                                   # real ONNX inference
    texts = [r.text for r in rec.recognize([line, 255 - line, heading])]
    assert texts == ["Quarterly revenue grew by 12%"] * 3, texts


def test_a_blurred_line_is_sharpened_and_a_sharp_one_is_not(monkeypatch):
    """Out-of-focus crops get an unsharp mask before reading; the blur estimate is in line heights,
    so the same line at twice the size is judged alike. Real ONNX: the sharpened readings are closer
    (at σ 2.6 line-height/32: 6 edits on these three lines against 12 unsharpened, when written)."""
    import cv2

    import polyocr.pipeline.recognize as recognize
    from polyocr.eval.metrics import edit_distance
    from polyocr.pipeline.recognize import BLURRED, blur_sigma, sharpen_blurred

    from render_util import render

    lines = {"ru": "Обращение к гражданам 2024", "zh-Hans": "我们今天在北京学习中文", "ko": "대한민국 헌법 제1조"}
    crops = {lang: render(t, lang=lang, size=28) for lang, t in lines.items()}
    line = crops["ru"]
    big = cv2.resize(line, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    assert blur_sigma(line) < BLURRED and abs(blur_sigma(big) - blur_sigma(line)) < 0.5
    assert sharpen_blurred(line) is line
    soft = {lang: cv2.GaussianBlur(c, (0, 0), 2.6 * c.shape[0] / 32) for lang, c in crops.items()}
    assert all(blur_sigma(c) > BLURRED and sharpen_blurred(c) is not c for c in soft.values())
    assert all(blur_sigma(sharpen_blurred(c)) < blur_sigma(c) for c in soft.values())
    rec = Recognizer(threads=1)

    def edits() -> int:
        return sum(edit_distance(r.text, lines[lang]) for r, lang in zip(rec.recognize(list(soft.values())), soft))

    sharpened = edits()
    monkeypatch.setattr(recognize, "BLURRED", float("inf"))
    assert sharpened < edits()
